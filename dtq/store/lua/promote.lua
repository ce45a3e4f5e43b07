#!lua flags=allow-oom
-- Move due tasks to the tail of their queued lists: scheduled -> queued and retrying -> queued,
-- each remembering its due time as when it became ready. Atomic, so any number of schedulers may run it at once and a
-- task is promoted exactly once; no lock is held between calls.
--
-- KEYS[1] dtq:{q}:scheduled zset, score = due ms
-- KEYS[2] dtq:{q}:retrying  zset, score = due ms
-- KEYS[3] dtq:{q}:queued    hash level -> queued count (include queued)
-- KEYS[4] dtq:{q}:active    zset (read only)
-- KEYS[5] dtq:{q}:t:state   hash
-- KEYS[6] dtq:{q}:t:task    hash (column `spec`), for each task's priority
-- ARGV[1] most tasks to move from each of KEYS[1] and KEYS[2]   ARGV[2] worker channel
-- Returns: {now ms, tasks moved, next due ms (-1 = none), next lease expiry ms (-1 = none)}
-- @include now
-- @include priority
-- @include bulk
-- @include queued
-- @include spec
local scheduled, retrying, queued, active, states, spec_col = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local limit, worker_channel = tonumber(ARGV[1]), ARGV[2]
local now = now_ms()

local moved = 0
for _, source in ipairs({scheduled, retrying}) do
  local due = redis.call('ZRANGE', source, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES')
  if #due > 0 then
    local ids = {}
    for i = 1, #due, 2 do ids[#ids + 1] = due[i] end
    local specs = hmget(spec_col, ids)
    local ready = new_pushes()
    for n, id in ipairs(ids) do
      -- (a task without a record is only dropped: counted, its entry would be skipped forever)
      if specs[n] then add_push(ready, priority_of(specs[n]), id, tonumber(due[2 * n])) end
    end
    bulk('ZREM', source, ids)
    bulk('HDEL', states, ids)
    moved = moved + push(queued, ready)
  end
end
if moved > 0 then redis.call('PUBLISH', worker_channel, 'ready') end

local function first_score(key)
  local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return head[2] and tonumber(head[2]) or -1
end
local next_due = -1
for _, source in ipairs({scheduled, retrying}) do
  local at = first_score(source)
  if at >= 0 and (next_due < 0 or at < next_due) then next_due = at end
end
return {now, moved, next_due, first_score(active)}
