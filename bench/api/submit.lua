-- POST /api/v1/builds: a script build of project app (each one commit: build, config, event).
local headers = {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json"}
local body = '{"project":"app","method":"script","params":{"script":"make test"},"spec":{"cpu":1,"memory_gb":1}}'
function request() return wrk.format("POST", "/api/v1/builds", headers, body) end
