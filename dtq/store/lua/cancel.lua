#!lua flags=allow-oom
-- Cancel one task. Waiting tasks (queued, scheduled, retrying) are removed from their set and
-- end cancelled at once; an active task gets a cancel request that its worker is told about
-- and its handler can observe. Final tasks are left alone. Repeating the call is harmless.
--
-- KEYS[1] dtq:{q}:queued    hash level -> queued count (include queued)
-- KEYS[2] dtq:{q}:scheduled zset
-- KEYS[3] dtq:{q}:retrying  zset
-- KEYS[4] dtq:{q}:cancelled zset, score = ms it was cancelled
-- KEYS[5] dtq:{q}:t:state   hash
-- KEYS[6] dtq:{q}:t:cancel  hash id -> ms of the request
-- KEYS[7] dtq:{q}:activity  hash "<minute>:<event>" -> n
-- KEYS[8] dtq:{q}:t:task    hash (column `spec`) id -> task JSON (for the task name the totals count by)
-- KEYS[9] dtq:{q}:totals    hash "<event>|<task name>" -> n
-- ARGV[1] task id   ARGV[2] worker channel
-- Returns: {code, state}: 1 = cancelled now, 2 = cancel requested (the task is active),
--          0 = already final (state says which), -1 = no such task
-- @include now
-- @include priority
-- @include bulk
-- @include queued
-- @include count
-- @include spec
local queued, scheduled, retrying, cancelled, states, cancels, activity, spec_col, totals =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local id, worker_channel = ARGV[1], ARGV[2]

local raw = redis.call('HGET', spec_col, id)
if not raw then return {-1, ''} end
local state = redis.call('HGET', states, id) or 'queued'
local waiting_in = {scheduled = scheduled, retrying = retrying}
local now = now_ms()
if state == 'queued' or waiting_in[state] then
  if state == 'queued' then
    uncount(queued, {priority_of(raw)})  -- its entry stays, stale: a claim passes it
  else
    redis.call('ZREM', waiting_in[state], id)
  end
  redis.call('HSET', states, id, 'cancelled')
  redis.call('ZADD', cancelled, now, id)
  count_event(totals, activity, now, 'cancelled', {[name_of(decode_spec(raw))] = 1})
  return {1, 'cancelled'}
end
if state == 'active' then
  if redis.call('HSETNX', cancels, id, now) == 1 then
    redis.call('PUBLISH', worker_channel, 'cancel ' .. id)
  end
  return {2, 'active'}
end
return {0, state}
