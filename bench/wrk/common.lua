-- Shared by every route script (loaded with dofile from BENCH_LUA_DIR).
-- Counts responses outside 2xx in each thread and, at the end, prints one line
--   BENCH_RESULT {json}
-- that bench/run.sh collects: requests, req/s, latency percentiles (microseconds), errors.
-- wrk's own text summary (with --latency) is printed above it and kept in the run's logs.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

non2xx = 0

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"kind":"wrk","name":"%s","requests":%d,"seconds":%.3f,"rps":%.1f,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,'
      .. '"non2xx":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}}\n',
    os.getenv("BENCH_NAME") or "unnamed", summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, bad, e.connect, e.read, e.write, e.timeout))
end
