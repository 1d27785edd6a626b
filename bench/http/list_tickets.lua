-- wrk script: every request POSTs a new, unique ticket listing (so each one is
-- a durable 201, not a dedup hit). TT_TOKEN is the Bearer access token.
local token = os.getenv("TT_TOKEN") or ""
local threads = {}
local thread_counter = 0

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("tid", thread_counter)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  statuses = {}
end

function request()
  n = n + 1
  local body = string.format(
    '{"event_id":"bench-ev","event_name":"Bench Night","venue":"Bench Hall","category":"concert",' ..
    '"event_starts_at":"2026-12-31T20:00:00Z","section":"S%d","row":"R%d","seats":["%d"],' ..
    '"face_value_minor":%d,"currency":"USD","barcode":"BENCH-%d-%d-%d","platform":"upload"}',
    tid, n % 100, n, 1000 + n % 5000, tid, n, math.random(1, 1000000000))
  return wrk.format("POST", "/api/v1/tickets",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, count in pairs(s) do
      io.write(string.format("status %d: %d\n", code, count))
    end
  end
end
