#!lua flags=allow-oom
-- Claim up to N ready tasks for one worker: move them into the active set with a lease and a
-- lease token, count the attempt, and return what the worker needs to run them. Strict mode
-- pops the lowest scores (highest priority, then oldest); weighted mode visits the priority
-- levels in the order the worker drew. allow-oom: it moves tasks, it does not add any.
--
-- KEYS[1] dtq:{q}:ready      zset       KEYS[6] dtq:{q}:t:attempts  hash id -> n
-- KEYS[2] dtq:{q}:active     zset       KEYS[7] dtq:{q}:t:token     hash id -> lease token
-- KEYS[3] dtq:{q}:paused     string     KEYS[8] dtq:{q}:t:worker    hash id -> worker id
-- KEYS[4] dtq:{q}:t:task     hash       KEYS[9] dtq:{q}:t:started   hash id -> ms
-- KEYS[5] dtq:{q}:t:state    hash
-- ARGV[1] most tasks to claim   ARGV[2] lease, ms   ARGV[3] lease token   ARGV[4] worker id
-- ARGV[5] '' for strict order, else priority levels to visit, comma separated (e.g. '7,9,8')
-- Returns: {now ms, ready left (-1 = queue paused), then per task 4 values:
--           id, spec JSON (false if the record is missing), attempt number, ms it became ready}
-- @include now
-- @include band
-- @include bulk
local ready, active, paused, tasks, states, attempts, tokens, workers, started =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local want, lease, token, worker, order = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local now = now_ms()

if redis.call('EXISTS', paused) == 1 then return {now, -1} end

local popped = {}  -- flat id, score pairs
if order == '' then
  popped = redis.call('ZPOPMIN', ready, want)
else
  for level in string.gmatch(order, '%d') do
    local need = want - #popped / 2
    if need <= 0 then break end
    local low = ready_score(level, 0)
    local got = redis.call('ZRANGE', ready, low, low + BAND - 1, 'BYSCORE', 'LIMIT', 0, need, 'WITHSCORES')
    if #got > 0 then
      local ids = {}
      for i = 1, #got, 2 do ids[#ids + 1] = got[i]; popped[#popped + 1] = got[i]; popped[#popped + 1] = got[i + 1] end
      bulk('ZREM', ready, ids)
    end
  end
end
if #popped == 0 then return {now, 0} end

local ids = {}
for i = 1, #popped, 2 do ids[#ids + 1] = popped[i] end
local specs = hmget(tasks, ids)
local counts = hmget(attempts, ids)
local expiry = now + lease
local out = {now, redis.call('ZCARD', ready)}
local w_state, w_attempts, w_token, w_worker, w_started, w_active = {}, {}, {}, {}, {}, {}
for n, id in ipairs(ids) do
  local attempt = tonumber(counts[n] or 0) + 1
  w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'active'
  w_attempts[#w_attempts + 1] = id; w_attempts[#w_attempts + 1] = attempt
  w_token[#w_token + 1] = id; w_token[#w_token + 1] = token
  w_worker[#w_worker + 1] = id; w_worker[#w_worker + 1] = worker
  w_started[#w_started + 1] = id; w_started[#w_started + 1] = now
  w_active[#w_active + 1] = expiry; w_active[#w_active + 1] = id
  out[#out + 1] = id
  out[#out + 1] = specs[n]
  out[#out + 1] = attempt
  out[#out + 1] = tonumber(popped[2 * n]) % BAND
end
bulk('HSET', states, w_state)
bulk('HSET', attempts, w_attempts)
bulk('HSET', tokens, w_token)
bulk('HSET', workers, w_worker)
bulk('HSET', started, w_started)
bulk('ZADD', active, w_active)
return out
