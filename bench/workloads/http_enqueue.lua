-- wrk script for the http-enqueue workload: POSTs the original API's task body.
--
--   wrk ... -s http_enqueue.lua http://127.0.0.1:PORT/tasks
--   wrk ... -s http_enqueue.lua http://127.0.0.1:PORT/tasks/bulk -- 1000
--
-- With no argument every request is one task object; with N it is a JSON array of N of them.
-- After the run one JSON line with the counts and latency percentiles (microseconds) goes to
-- stdout, after wrk's own report; the harness reads that line.

local ITEM = '{"priority": true, "task": "high-priority task"}'

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
  local n = tonumber(args[1] or "0")
  if n > 0 then
    local items = {}
    for i = 1, n do
      items[i] = ITEM
    end
    wrk.body = "[" .. table.concat(items, ",") .. "]"
  else
    wrk.body = ITEM
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max
  ))
end
