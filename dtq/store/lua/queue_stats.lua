#!lua flags=no-writes
-- Count a queue: ready tasks per priority, the other sets, the paused flag, and when the
-- oldest ready task became ready.
--
-- KEYS[1] dtq:{q}:ready     zset
-- KEYS[2] dtq:{q}:scheduled zset
-- KEYS[3] dtq:{q}:retrying  zset
-- KEYS[4] dtq:{q}:active    zset
-- KEYS[5] dtq:{q}:succeeded zset
-- KEYS[6] dtq:{q}:cancelled zset
-- KEYS[7] dtq:{q}:dead      zset
-- KEYS[8] dtq:{q}:paused    string
-- Returns: {now ms, ready at priority 0, ..., ready at priority 9, scheduled, retrying, active,
--           succeeded, cancelled, dead, paused (1/0), ms the oldest ready task became ready (-1 = none)}
-- @include now
-- @include band
local ready = KEYS[1]
local out = {now_ms()}
local oldest = -1
for priority = 0, 9 do
  local low = ready_score(priority, 0)
  out[#out + 1] = redis.call('ZCOUNT', ready, low, low + BAND - 1)
  local head = redis.call('ZRANGE', ready, low, low + BAND - 1, 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
  if head[2] then
    local at = tonumber(head[2]) % BAND
    if oldest < 0 or at < oldest then oldest = at end
  end
end
for k = 2, 7 do out[#out + 1] = redis.call('ZCARD', KEYS[k]) end
out[#out + 1] = redis.call('EXISTS', KEYS[8])
out[#out + 1] = oldest
return out
