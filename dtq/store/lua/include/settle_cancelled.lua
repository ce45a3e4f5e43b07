-- A task whose cancel was requested while it ran must not run again: when it leaves the active
-- set other than by success, end it as cancelled. Returns the positions in `ids` that had no
-- pending request (the caller handles those) and how many were cancelled.
local function settle_cancelled(ids, cancels, states, finished, cancelled, now, retention)
  local flags = hmget(cancels, ids)
  local rest, gone, w_state, w_finished, w_cancelled = {}, {}, {}, {}, {}
  for n, id in ipairs(ids) do
    if flags[n] then
      gone[#gone + 1] = id
      w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'cancelled'
      w_finished[#w_finished + 1] = id; w_finished[#w_finished + 1] = now
      w_cancelled[#w_cancelled + 1] = now + retention; w_cancelled[#w_cancelled + 1] = id
    else
      rest[#rest + 1] = n
    end
  end
  if #gone > 0 then
    bulk('HSET', states, w_state)
    bulk('HSET', finished, w_finished)
    bulk('ZADD', cancelled, w_cancelled)
    bulk('HDEL', cancels, gone)
  end
  return rest, #gone
end
