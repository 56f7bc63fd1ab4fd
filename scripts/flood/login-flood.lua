-- The login flood of scripts/flood.py: every connection POSTs /login for one account
-- (FLOOD_EMAIL) with a wrong password, as fast as the answers come back.
-- Counts the answers by status, and the 429s that lack a Retry-After header. At the end it
-- prints, below the BENCH_RESULT line of the benchmark's common.lua (requests, req/s, latency,
-- socket errors), one line
--   FLOOD_RESULT {"status":{"429":n,"401":n,...},"no_retry_after":n}
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email":"%s","password":"not-the-password"}', os.getenv("FLOOD_EMAIL"))

local common_setup, common_response, common_done = setup, response, done
local threads = {}

function setup(thread)
  common_setup(thread)
  table.insert(threads, thread)
end

-- Per thread (each wrk thread runs its own copy of this script); done() adds them up.
statuses = {}
no_retry_after = 0

local function has_retry_after(headers)
  for name, _ in pairs(headers) do
    if string.lower(name) == "retry-after" then
      return true
    end
  end
  return false
end

function response(status, headers, body)
  common_response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 429 and not has_retry_after(headers) then
    no_retry_after = no_retry_after + 1
  end
end

function done(summary, latency, requests)
  common_done(summary, latency, requests)
  local total, missing = {}, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses") or {}) do
      total[status] = (total[status] or 0) + count
    end
    missing = missing + (thread:get("no_retry_after") or 0)
  end
  local parts = {}
  for status, count in pairs(total) do
    table.insert(parts, string.format('"%d":%d', status, count))
  end
  io.write(string.format('FLOOD_RESULT {"status":{%s},"no_retry_after":%d}\n',
    table.concat(parts, ","), missing))
end
