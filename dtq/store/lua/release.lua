#!lua flags=allow-oom
-- Hand held tasks back at once (graceful shutdown ran out of time): active -> queued, in the
-- place they had in line, and the attempt is not counted, since the task did not fail. A task
-- whose cancel was requested ends cancelled instead.
--
-- KEYS[1] dtq:{q}:active      zset   KEYS[6] dtq:{q}:t:prio       hash id -> priority
-- KEYS[2] dtq:{q}:ready       zset   KEYS[7] dtq:{q}:t:cancel     hash
-- KEYS[3] dtq:{q}:t:state     hash   KEYS[8] dtq:{q}:t:finished   hash
-- KEYS[4] dtq:{q}:t:token     hash   KEYS[9] dtq:{q}:cancelled    zset
-- KEYS[5] dtq:{q}:t:attempts  hash
-- ARGV[1] retention of cancelled records, ms   ARGV[2] worker channel
-- ARGV[3..] per task, 3 values: id, lease token, ms it became ready (its place in line)
-- Returns: per task 1 = handed back (or cancelled), 0 = lease lost (nothing written for it)
-- @include now
-- @include band
-- @include bulk
-- @include held
-- @include settle_cancelled
local active, ready, states, tokens, attempts, prios, cancels, finished, cancelled =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local retention, worker_channel = tonumber(ARGV[1]), ARGV[2]
local now = now_ms()

local _, kept, verdicts = held_groups(tokens, 3, 3)
if #kept == 0 then return verdicts end
local ids = {}
for _, base in ipairs(kept) do ids[#ids + 1] = ARGV[base] end
bulk('HDEL', tokens, ids)
bulk('ZREM', active, ids)
local rest = settle_cancelled(ids, cancels, states, finished, cancelled, now, retention)
if #rest == 0 then return verdicts end
local rest_ids = {}
for _, n in ipairs(rest) do rest_ids[#rest_ids + 1] = ids[n] end
local levels = hmget(prios, rest_ids)
local counts = hmget(attempts, rest_ids)
local w_state, w_attempts, w_ready = {}, {}, {}
for i, n in ipairs(rest) do
  local id = ids[n]
  w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'queued'
  w_attempts[#w_attempts + 1] = id; w_attempts[#w_attempts + 1] = math.max(tonumber(counts[i] or 1) - 1, 0)
  w_ready[#w_ready + 1] = ready_score(levels[i] or 5, tonumber(ARGV[kept[n] + 2]))
  w_ready[#w_ready + 1] = id
end
bulk('HSET', states, w_state)
bulk('HSET', attempts, w_attempts)
bulk('ZADD', ready, w_ready)
redis.call('PUBLISH', worker_channel, 'ready')
return verdicts
