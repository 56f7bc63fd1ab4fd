-- GET / on the ceiling front (one hop to the fixed-JSON backend per request). Sends the same
-- Authorization header as the tasks routes so request sizes are alike.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "x")
