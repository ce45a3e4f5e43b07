#!lua flags=allow-oom
-- A held task failed and will run again: active -> retrying (due after its backoff delay), or
-- straight to queued when the delay is 0. A task whose cancel was requested ends cancelled.
--
-- KEYS[1] dtq:{q}:active     zset   KEYS[7]  dtq:{q}:t:error     hash id -> error JSON
-- KEYS[2] dtq:{q}:retrying   zset   KEYS[8]  dtq:{q}:t:due       hash id -> due ms
-- KEYS[3] dtq:{q}:ready      zset   KEYS[9]  dtq:{q}:t:cancel    hash
-- KEYS[4] dtq:{q}:t:state    hash   KEYS[10] dtq:{q}:t:finished  hash
-- KEYS[5] dtq:{q}:t:token    hash   KEYS[11] dtq:{q}:cancelled   zset
-- KEYS[6] dtq:{q}:t:prio     hash   KEYS[12] dtq:{q}:totals      KEYS[13] dtq:{q}:stats: prefix
-- ARGV[1] retention of cancelled records, ms   ARGV[2] stats TTL, ms
-- ARGV[3] worker channel   ARGV[4] scheduler channel
-- ARGV[5..] per task, 5 values: id, lease token, delay ms, error JSON, task name
-- Returns: per task 1 = will retry, 0 = lease lost (nothing written for it)
-- @include now
-- @include band
-- @include bulk
-- @include count
-- @include held
-- @include settle_cancelled
local active, retrying, ready, states, tokens, prios, errors, dues, cancels, finished, cancelled, totals, stats =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11],
  KEYS[12], KEYS[13]
local retention, stats_ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local worker_channel, scheduler_channel = ARGV[3], ARGV[4]
local now = now_ms()

local _, kept, verdicts = held_groups(tokens, 5, 5)
if #kept == 0 then return verdicts end
local ids, failed_per_task = {}, {}
for _, base in ipairs(kept) do
  ids[#ids + 1] = ARGV[base]
  failed_per_task[ARGV[base + 4]] = (failed_per_task[ARGV[base + 4]] or 0) + 1
end
bulk('HDEL', tokens, ids)
bulk('ZREM', active, ids)
local w_error = {}
for _, base in ipairs(kept) do w_error[#w_error + 1] = ARGV[base]; w_error[#w_error + 1] = ARGV[base + 3] end
bulk('HSET', errors, w_error)
count_event(totals, stats, now, stats_ttl, 'failed', failed_per_task)

local rest = settle_cancelled(ids, cancels, states, finished, cancelled, now, retention)
if #rest == 0 then return verdicts end
local rest_ids = {}
for _, n in ipairs(rest) do rest_ids[#rest_ids + 1] = ids[n] end
local levels = hmget(prios, rest_ids)
local w_state, w_due, w_later, w_now, per_task = {}, {}, {}, {}, {}
for i, n in ipairs(rest) do
  local base = kept[n]
  local id, delay, name = ARGV[base], tonumber(ARGV[base + 2]), ARGV[base + 4]
  local due = now + delay
  per_task[name] = (per_task[name] or 0) + 1
  w_due[#w_due + 1] = id; w_due[#w_due + 1] = due
  if delay > 0 then
    w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'retrying'
    w_later[#w_later + 1] = due; w_later[#w_later + 1] = id
  else
    w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'queued'
    w_now[#w_now + 1] = ready_score(levels[i] or 5, now); w_now[#w_now + 1] = id
  end
end
bulk('HSET', states, w_state)
bulk('HSET', dues, w_due)
if #w_later > 0 then bulk('ZADD', retrying, w_later); redis.call('PUBLISH', scheduler_channel, 'due') end
if #w_now > 0 then bulk('ZADD', ready, w_now); redis.call('PUBLISH', worker_channel, 'ready') end
count_event(totals, stats, now, stats_ttl, 'retried', per_task)
return verdicts
