-- wrk script for the http-enqueue workload: POSTs one task object, or arrays of them.
--
--   wrk ... -s http_enqueue.lua http://127.0.0.1:PORT/tasks -- '{"task": "t"}'
--   wrk ... -s http_enqueue.lua http://127.0.0.1:PORT/tasks/bulk -- '{"task": "t"}' 1000
--
-- The first argument is the task's JSON; with a count N after it, every request is a JSON array
-- of N copies instead. After the run one JSON line with the counts (http_errors: status >= 400)
-- and latency percentiles (microseconds) goes to stdout after wrk's own report, for the harness.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
  local item, n = args[1], tonumber(args[2] or "0")
  if n > 0 then
    local items = {}
    for i = 1, n do
      items[i] = item
    end
    wrk.body = "[" .. table.concat(items, ",") .. "]"
  else
    wrk.body = item
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "http_errors": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max
  ))
end
