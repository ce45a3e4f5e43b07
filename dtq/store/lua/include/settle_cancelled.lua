-- A task whose cancel was requested while it ran must not run again: when it leaves the active
-- set other than by success, end it as cancelled, counted as a `cancelled` event (`names[n]` is
-- the task name of ids[n]). Returns the positions in `ids` that had no pending request (the
-- caller handles those) and how many were cancelled. Needs includes bulk and count.
local function settle_cancelled(ids, names, cancels, states, cancelled, totals, activity, now)
  if redis.call('HLEN', cancels) == 0 then
    local all = {}
    for n = 1, #ids do all[n] = n end
    return all, 0
  end
  local flags = hmget(cancels, ids)
  local rest, gone, w_state, w_cancelled, per_task = {}, {}, {}, {}, {}
  for n, id in ipairs(ids) do
    if flags[n] then
      local name = names[n]
      per_task[name] = (per_task[name] or 0) + 1
      gone[#gone + 1] = id
      w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'cancelled'
      w_cancelled[#w_cancelled + 1] = now; w_cancelled[#w_cancelled + 1] = id
    else
      rest[#rest + 1] = n
    end
  end
  if #gone > 0 then
    bulk('HSET', states, w_state)
    bulk('ZADD', cancelled, w_cancelled)
    bulk('HDEL', cancels, gone)
    count_event(totals, activity, now, 'cancelled', per_task)
  end
  return rest, #gone
end
