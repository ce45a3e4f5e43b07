-- Add `per_task` (task name -> n) to the lifetime totals and to this minute's counters.
local function count_event(totals, stats_prefix, now, stats_ttl, event, per_task)
  local n = 0
  for name, c in pairs(per_task) do
    redis.call('HINCRBY', totals, event .. '|' .. name, c)
    n = n + c
  end
  if n > 0 then
    local minute = stats_prefix .. math.floor(now / 60000)
    redis.call('HINCRBY', minute, event, n)
    redis.call('PEXPIRE', minute, stats_ttl)
  end
end
