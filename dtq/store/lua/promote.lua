#!lua flags=allow-oom
-- Move due tasks to the ready set: scheduled -> queued and retrying -> queued, each keeping its
-- due time as its place in line. Atomic, so any number of schedulers may run it at once and a
-- task is promoted exactly once; no lock is held between calls.
--
-- KEYS[1] dtq:{q}:scheduled zset, score = due ms
-- KEYS[2] dtq:{q}:retrying  zset, score = due ms
-- KEYS[3] dtq:{q}:ready     zset
-- KEYS[4] dtq:{q}:active    zset (read only)
-- KEYS[5] dtq:{q}:t:state   hash
-- KEYS[6] dtq:{q}:t:prio    hash
-- ARGV[1] most tasks to move from each of KEYS[1] and KEYS[2]   ARGV[2] worker channel
-- Returns: {now ms, tasks moved, next due ms (-1 = none), next lease expiry ms (-1 = none)}
-- @include now
-- @include band
-- @include bulk
local scheduled, retrying, ready, active, states, prios = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local limit, worker_channel = tonumber(ARGV[1]), ARGV[2]
local now = now_ms()

local moved = 0
for _, source in ipairs({scheduled, retrying}) do
  local due = redis.call('ZRANGE', source, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES')
  if #due > 0 then
    local ids = {}
    for i = 1, #due, 2 do ids[#ids + 1] = due[i] end
    local levels = hmget(prios, ids)
    local w_state, w_ready = {}, {}
    for n, id in ipairs(ids) do
      w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'queued'
      w_ready[#w_ready + 1] = ready_score(levels[n], tonumber(due[2 * n])); w_ready[#w_ready + 1] = id
    end
    bulk('ZREM', source, ids)
    bulk('HSET', states, w_state)
    bulk('ZADD', ready, w_ready)
    moved = moved + #ids
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
