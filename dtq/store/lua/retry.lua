#!lua flags=allow-oom
-- A held task failed and will run again: active -> retrying (due after its backoff delay), or
-- straight to queued when the delay is 0. A task whose cancel was requested ends cancelled.
--
-- KEYS[1]  dtq:{q}:active    zset
-- KEYS[2]  dtq:{q}:retrying  zset
-- KEYS[3]  dtq:{q}:queued    hash level -> queued count (include queued)
-- KEYS[4]  dtq:{q}:t:state   hash
-- KEYS[5]  dtq:{q}:t:run     hash
-- KEYS[6]  dtq:{q}:t:task    hash (column `spec`), for each task's priority
-- KEYS[7]  dtq:{q}:t:error   hash id -> error JSON
-- KEYS[8]  dtq:{q}:t:due     hash id -> due ms
-- KEYS[9]  dtq:{q}:t:cancel  hash
-- KEYS[10] dtq:{q}:cancelled zset, score = ms it was cancelled
-- KEYS[11] dtq:{q}:totals    hash
-- KEYS[12] dtq:{q}:activity  hash "<minute>:<event>" -> n
-- ARGV[1] worker channel   ARGV[2] scheduler channel
-- ARGV[3..] groups: lease token, task name, count, then per task: id, delay ms, error JSON
-- Returns: per task, in argument order, 1 = will retry (or cancelled), 0 = lease lost
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
local active, retrying, queued, states, runs, spec_col, errors, dues, cancels, cancelled, totals, stats =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local worker_channel, scheduler_channel = ARGV[1], ARGV[2]
local now = now_ms()

local list = entries(3, 3)
local verdicts, kept = check_held(states, runs, list)
if #kept == 0 then return verdicts end
local ids, names = ids_at(list, kept), names_at(list, kept)
local w_error, failed = {}, {}
for _, n in ipairs(kept) do
  w_error[#w_error + 1] = list.ids[n]; w_error[#w_error + 1] = ARGV[list.at[n] + 2]
  failed[list.names[n]] = (failed[list.names[n]] or 0) + 1
end
bulk('ZREM', active, ids)
bulk('HSET', errors, w_error)
count_event(totals, stats, now, 'failed', failed)

local rest = settle_cancelled(ids, names, cancels, states, cancelled, totals, stats, now)
if #rest == 0 then return verdicts end
local rest_ids = {}
for i, n in ipairs(rest) do rest_ids[i] = ids[n] end
local w_state, w_due, w_later, w_now, retried = {}, {}, {}, {}, {}
local ready = new_pushes()
for i, r in ipairs(rest) do
  local n = kept[r]
  local id, name = list.ids[n], list.names[n]
  local delay = tonumber(ARGV[list.at[n] + 1])
  local due = now + delay
  retried[name] = (retried[name] or 0) + 1
  w_due[#w_due + 1] = id; w_due[#w_due + 1] = due
  if delay > 0 then
    w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'retrying'
    w_later[#w_later + 1] = due; w_later[#w_later + 1] = id
  else
    w_now[#w_now + 1] = id
  end
end
if #w_state > 0 then bulk('HSET', states, w_state) end
bulk('HSET', dues, w_due)
if #w_later > 0 then bulk('ZADD', retrying, w_later); redis.call('PUBLISH', scheduler_channel, 'due') end
if #w_now > 0 then
  -- A retry with no delay goes to the back of its level (it already had its turn).
  local specs = hmget(spec_col, w_now)
  for n, id in ipairs(w_now) do add_push(ready, priority_of(specs[n]), id, now) end
  bulk('HDEL', states, w_now)
  push(queued, ready)
  redis.call('PUBLISH', worker_channel, 'ready')
end
count_event(totals, stats, now, 'retried', retried)
return verdicts
