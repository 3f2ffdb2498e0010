-- GET /api/v1/builds/{id} over the ids in the file named by IDS (one per line), picked at
-- random. The token comes from TOKEN.
local ids = {}
for line in io.lines(os.getenv("IDS")) do
  if #line > 0 then ids[#ids + 1] = line end
end
local headers = {["Authorization"] = "Bearer " .. os.getenv("TOKEN")}
function request()
  return wrk.format("GET", "/api/v1/builds/" .. ids[math.random(#ids)], headers)
end
