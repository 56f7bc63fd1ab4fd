-- POST /tasks with a valid token (BENCH_TOKEN) and a fixed small task.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = '{"title":"Benchmark task","text":"Stored by wrk through bench/run.sh."}'
