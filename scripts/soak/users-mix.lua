-- users-api mix for the soak: 89% GET /network, 10% GET /readyz, 1% POST /login (argon2).
local threads = {}
non2xx = 0

function setup(thread) table.insert(threads, thread) end

function request()
  local roll = math.random(100)
  if roll <= 89 then
    return wrk.format("GET", "/network")
  elseif roll <= 99 then
    return wrk.format("GET", "/readyz")
  end
  return wrk.format("POST", "/login", { ["Content-Type"] = "application/json" },
    '{"email":"soak@test.com","password":"testers"}')
end

function response(status) if status < 200 or status > 299 then non2xx = non2xx + 1 end end

function done(summary, latency)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format('SOAK_RESULT {"requests":%d,"non2xx":%d,"socket_errors":%d,"timeouts":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, bad, e.connect + e.read + e.write, e.timeout, latency:percentile(99), latency.max))
end
