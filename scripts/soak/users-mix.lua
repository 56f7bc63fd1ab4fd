-- users-api mix for the soak: 89% GET /network, 10% GET /readyz, 1% POST /login (argon2).
-- Errors are counted and reported by the benchmark's common.lua (BENCH_RESULT line).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

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
