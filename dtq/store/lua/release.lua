#!lua flags=allow-oom
-- Hand held tasks back at once (graceful shutdown ran out of time): active -> queued, at the
-- head of their level (they were next when claimed), and the attempt is not counted, since the task did not fail. A task
-- whose cancel was requested ends cancelled instead.
--
-- KEYS[1] dtq:{q}:active    zset
-- KEYS[2] dtq:{q}:queued    hash level -> queued count (include queued)
-- KEYS[3] dtq:{q}:t:state   hash
-- KEYS[4] dtq:{q}:t:run     hash id -> "attempt|started ms|lease token"
-- KEYS[5] dtq:{q}:t:task    hash (column `spec`), for each task's priority
-- KEYS[6] dtq:{q}:t:cancel  hash
-- KEYS[7] dtq:{q}:cancelled zset, score = ms it was cancelled
-- KEYS[8] dtq:{q}:totals    hash "<event>|<task name>" -> n
-- KEYS[9] dtq:{q}:activity  hash "<minute>:<event>" -> n
-- ARGV[1] worker channel
-- ARGV[2..] groups: lease token, task name, count, then per task: id, ms it became ready
-- Returns: per task, in argument order, 1 = handed back (or cancelled), 0 = lease already lost
-- @include now
-- @include priority
-- @include bulk
-- @include queued
-- @include spec
-- @include run
-- @include count
-- @include groups
-- @include held
-- @include settle_cancelled
local active, queued, states, runs, spec_col, cancels, cancelled, totals, stats =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local worker_channel = ARGV[1]
local now = now_ms()

local list = entries(2, 2)
local verdicts, kept = check_held(states, runs, list)
if #kept == 0 then return verdicts end
local ids, names = ids_at(list, kept), names_at(list, kept)
bulk('ZREM', active, ids)
local rest = settle_cancelled(ids, names, cancels, states, cancelled, totals, stats, now)
if #rest == 0 then return verdicts end
local rest_ids = {}
for i, n in ipairs(rest) do rest_ids[i] = ids[n] end
local specs, records = hmget(spec_col, rest_ids), hmget(runs, rest_ids)
local w_run, ready = {}, new_pushes()
for i, r in ipairs(rest) do
  local n = kept[r]
  local id = list.ids[n]
  local attempt, started = run_fields(records[i])
  w_run[#w_run + 1] = id; w_run[#w_run + 1] = run_record(math.max(attempt - 1, 0), started, '')
  add_push(ready, priority_of(specs[i]), id, tonumber(ARGV[list.at[n] + 1]))
end
bulk('HDEL', states, rest_ids)
bulk('HSET', runs, w_run)
push(queued, ready, true)
redis.call('PUBLISH', worker_channel, 'ready')
return verdicts
