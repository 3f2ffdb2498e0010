-- POST /api/v1/builds/{id}/start over the pending builds listed in IDS; thread n of N
-- takes ids n, n+N, ...; a thread stops when its share is used up (no id is started twice).
local ids, threads = {}, {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
local headers = {["Authorization"] = "Bearer " .. os.getenv("TOKEN")}
function setup(thread) threads[#threads + 1] = thread; thread:set("n", #threads) end
function init() n = tonumber(wrk.thread:get("n")); step = tonumber(os.getenv("THREADS")); i = n end
function request()
  local id = ids[i] or ids[n]
  i = i + step
  return wrk.format("POST", "/api/v1/builds/" .. id .. "/start", headers)
end
function response() if i > #ids then wrk.thread:stop() end end
