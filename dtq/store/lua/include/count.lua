-- Add `per_task` (task name -> n) to the lifetime totals and to this minute's counter of the
-- queue's activity hash (field "<minute>:<event>"; the retention sweep trims old minutes).
-- `event` is one of EVENTS (include events).
local function count_event(totals, activity, now, event, per_task)
  local n = 0
  for name, c in pairs(per_task) do
    redis.call('HINCRBY', totals, event .. '|' .. name, c)
    n = n + c
  end
  if n > 0 then
    redis.call('HINCRBY', activity, math.floor(now / 60000) .. ':' .. event, n)
  end
end
