#!lua flags=allow-oom
-- Give dead tasks another life: dead -> queued at the tail of their level, attempts reset, so
-- they get a full set of retries again. Ids that are not dead (any more) are skipped, so
-- repeating a redrive never runs a task twice.
--
-- KEYS[1] dtq:{q}:dead     zset
-- KEYS[2] dtq:{q}:queued   hash level -> queued count (include queued)
-- KEYS[3] dtq:{q}:t:state  hash
-- KEYS[4] dtq:{q}:t:run    hash id -> "attempt|started ms|lease token"
-- KEYS[5] dtq:{q}:t:task   hash (column `spec`), for each task's priority
-- KEYS[6] dtq:{q}:t:cancel hash
-- KEYS[7] dtq:{q}:dead:unrunnable zset, the dead that never ran
-- ARGV[1] worker channel   ARGV[2..] task ids
-- Returns: number of tasks redriven
-- @include now
-- @include priority
-- @include bulk
-- @include queued
-- @include spec
-- @include run
local dead, queued, states, runs, spec_col, cancels, unrunnable = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local worker_channel = ARGV[1]
local now = now_ms()

local ids = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', dead, ARGV[i]) then ids[#ids + 1] = ARGV[i] end
end
if #ids == 0 then return 0 end
local specs, records = hmget(spec_col, ids), hmget(runs, ids)
local w_run, ready = {}, new_pushes()
for n, id in ipairs(ids) do
  w_run[#w_run + 1] = id; local _, started, token = run_fields(records[n])
  w_run[#w_run + 1] = run_record(0, started, token)
  add_push(ready, priority_of(specs[n]), id, now)
end
bulk('ZREM', dead, ids)
bulk('ZREM', unrunnable, ids)
bulk('HDEL', states, ids)
bulk('HSET', runs, w_run)
bulk('HDEL', cancels, ids)
push(queued, ready)
redis.call('PUBLISH', worker_channel, 'ready')
return #ids
