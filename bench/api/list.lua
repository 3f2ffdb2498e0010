-- GET /api/v1/builds?limit=50 (the newest builds of the tenant).
local auth = "Bearer " .. os.getenv("TOKEN")
function request()
  return wrk.format("GET", "/api/v1/builds?limit=50", {["Authorization"] = auth})
end
