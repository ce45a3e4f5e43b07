#!lua flags=allow-oom
-- Record the success of tasks the caller still holds: active -> succeeded. A stale caller
-- (its lease expired and the task moved on) is refused per task, so it cannot overwrite the
-- outcome of a newer attempt.
--
-- KEYS[1] dtq:{q}:active      zset   KEYS[6] dtq:{q}:t:result   hash id -> result JSON
-- KEYS[2] dtq:{q}:succeeded   zset   KEYS[7] dtq:{q}:t:cancel   hash id -> ms of cancel request
-- KEYS[3] dtq:{q}:t:state     hash   KEYS[8] dtq:{q}:totals     hash event|task -> n
-- KEYS[4] dtq:{q}:t:token     hash   KEYS[9] dtq:{q}:stats:     prefix; minute appended
-- KEYS[5] dtq:{q}:t:finished  hash id -> ms
-- ARGV[1] retention of succeeded records, ms   ARGV[2] stats TTL, ms
-- ARGV[3..] per task, 4 values: id, lease token, result JSON ('' = no result), task name
-- Returns: per task 1 = recorded, 0 = lease lost (nothing written for it)
-- @include now
-- @include bulk
-- @include count
-- @include held
local active, succeeded, states, tokens, finished, results, cancels, totals, stats =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local retention, stats_ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_ms()

local _, kept, verdicts = held_groups(tokens, 3, 4)
if #kept == 0 then return verdicts end
local gone, w_state, w_finished, w_result, w_done, per_task = {}, {}, {}, {}, {}, {}
for _, base in ipairs(kept) do
  local id, result, name = ARGV[base], ARGV[base + 2], ARGV[base + 3]
  gone[#gone + 1] = id
  w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'succeeded'
  w_finished[#w_finished + 1] = id; w_finished[#w_finished + 1] = now
  if result ~= '' then w_result[#w_result + 1] = id; w_result[#w_result + 1] = result end
  w_done[#w_done + 1] = now + retention; w_done[#w_done + 1] = id
  per_task[name] = (per_task[name] or 0) + 1
end
bulk('HSET', states, w_state)
bulk('HSET', finished, w_finished)
if #w_result > 0 then bulk('HSET', results, w_result) end
bulk('HDEL', tokens, gone)
bulk('HDEL', cancels, gone)
bulk('ZREM', active, gone)
bulk('ZADD', succeeded, w_done)
count_event(totals, stats, now, stats_ttl, 'succeeded', per_task)
return verdicts
