#!lua flags=no-writes
-- Count a queue: queued tasks per priority, the other sets, the paused flag, and when the
-- oldest queued task became ready.
--
-- KEYS[1] dtq:{q}:queued    hash level -> queued count; the lists dtq:{q}:queued:<level>
-- KEYS[2] dtq:{q}:scheduled zset
-- KEYS[3] dtq:{q}:retrying  zset
-- KEYS[4] dtq:{q}:active    zset
-- KEYS[5] dtq:{q}:succeeded zset
-- KEYS[6] dtq:{q}:cancelled zset
-- KEYS[7] dtq:{q}:dead      zset
-- KEYS[8] dtq:{q}:paused    string
-- KEYS[9] dtq:{q}:t:task    hash (column `spec`)
-- KEYS[10] dtq:{q}:t:state  hash
-- Returns: {now ms, queued at priority 0, ..., queued at priority 9, scheduled, retrying, active,
--           succeeded, cancelled, dead, paused (1/0), ms the oldest queued task became ready
--           (-1 = none)}
-- @include now
-- @include priority
-- @include bulk
-- @include queued
local queued, spec_col, states = KEYS[1], KEYS[9], KEYS[10]
-- The oldest queued task is the first live entry at the head of a level; stale entries a claim
-- has not passed yet are skipped, up to this many (then that entry's time stands in: the oldest
-- queued task became ready no earlier).
local HEAD_SCAN = 16
local out = {now_ms()}
local counts = queued_counts(queued)
local oldest = -1
for level = 0, HIGHEST_PRIORITY do
  local n = math.max(counts[level] or 0, 0)
  out[#out + 1] = n
  if n > 0 then
    local head = redis.call('LRANGE', queued_list(queued, level), 0, HEAD_SCAN - 1)
    local ids, ats = {}, {}
    for i, entry in ipairs(head) do ids[i], ats[i] = parse_queued(entry) end
    local at = ats[#ats]
    if #ids > 0 then
      local current, specs = hmget(states, ids), hmget(spec_col, ids)
      for i = 1, #ids do
        if is_queued(current[i], specs[i]) then at = ats[i]; break end
      end
    end
    if at and (oldest < 0 or at < oldest) then oldest = at end
  end
end
for k = 2, 7 do out[#out + 1] = redis.call('ZCARD', KEYS[k]) end
out[#out + 1] = redis.call('EXISTS', KEYS[8])
out[#out + 1] = oldest
return out
