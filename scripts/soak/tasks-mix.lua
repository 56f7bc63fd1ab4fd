-- tasks-api mix for the soak: 75% GET /tasks (a page), 20% POST /tasks, 5% GET /network.
-- Errors are counted and reported by the benchmark's common.lua (BENCH_RESULT line).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local token = os.getenv("SOAK_TOKEN")
local json = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
local bearer = { ["Authorization"] = "Bearer " .. token }

function request()
  local roll = math.random(100)
  if roll <= 75 then
    return wrk.format("GET", "/tasks?limit=20", bearer)
  elseif roll <= 95 then
    return wrk.format("POST", "/tasks", json, '{"title":"soak","text":"emoji 👋 and עברית"}')
  end
  return wrk.format("GET", "/network")
end
