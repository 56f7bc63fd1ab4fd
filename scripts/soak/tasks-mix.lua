-- tasks-api mix for the soak: 75% GET /tasks (a page), 20% POST /tasks, 5% GET /network.
-- Counts non-2xx responses and prints one SOAK_RESULT line for scripts/soak.py.
local token = os.getenv("SOAK_TOKEN")
local json = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
local bearer = { ["Authorization"] = "Bearer " .. token }
local threads = {}
non2xx = 0

function setup(thread) table.insert(threads, thread) end

function request()
  local roll = math.random(100)
  if roll <= 75 then
    return wrk.format("GET", "/tasks?limit=20", bearer)
  elseif roll <= 95 then
    return wrk.format("POST", "/tasks", json, '{"title":"soak","text":"emoji 👋 and עברית"}')
  end
  return wrk.format("GET", "/network")
end

function response(status) if status < 200 or status > 299 then non2xx = non2xx + 1 end end

function done(summary, latency)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format('SOAK_RESULT {"requests":%d,"non2xx":%d,"socket_errors":%d,"timeouts":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, bad, e.connect + e.read + e.write, e.timeout, latency:percentile(99), latency.max))
end
