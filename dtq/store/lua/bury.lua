#!lua flags=allow-oom
-- End held tasks in a final state other than success: active -> dead (retries exhausted, an
-- Abort, an unknown or undecodable task) or active -> cancelled (the handler stopped after a
-- cancel request).
--
-- KEYS[1] dtq:{q}:active                  zset   KEYS[5] dtq:{q}:t:error     hash id -> error JSON
-- KEYS[2] dtq:{q}:dead or :cancelled      zset   KEYS[6] dtq:{q}:t:finished  hash id -> ms
-- KEYS[3] dtq:{q}:t:state                 hash   KEYS[7] dtq:{q}:t:cancel    hash
-- KEYS[4] dtq:{q}:t:token                 hash   KEYS[8] dtq:{q}:totals      KEYS[9] dtq:{q}:stats: prefix
-- ARGV[1] final state: 'dead' or 'cancelled'
-- ARGV[2] ms added to now for the score in KEYS[2]: 0 for dead (score = time of death),
--         the retention for cancelled (score = when the record may be deleted)
-- ARGV[3] stats TTL, ms
-- ARGV[4..] per task, 4 values: id, lease token, error JSON, task name
-- Returns: per task 1 = recorded, 0 = lease lost (nothing written for it)
-- @include now
-- @include bulk
-- @include count
-- @include held
local active, final_set, states, tokens, errors, finished, cancels, totals, stats =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local final_state, score_offset, stats_ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if final_state ~= 'dead' and final_state ~= 'cancelled' then
  return redis.error_reply('bury: final state must be dead or cancelled')
end
local now = now_ms()

local _, kept, verdicts = held_groups(tokens, 4, 4)
if #kept == 0 then return verdicts end
local gone, w_state, w_error, w_finished, w_final, per_task = {}, {}, {}, {}, {}, {}
for _, base in ipairs(kept) do
  local id, name = ARGV[base], ARGV[base + 3]
  gone[#gone + 1] = id
  w_state[#w_state + 1] = id; w_state[#w_state + 1] = final_state
  w_error[#w_error + 1] = id; w_error[#w_error + 1] = ARGV[base + 2]
  w_finished[#w_finished + 1] = id; w_finished[#w_finished + 1] = now
  w_final[#w_final + 1] = now + score_offset; w_final[#w_final + 1] = id
  per_task[name] = (per_task[name] or 0) + 1
end
bulk('HSET', states, w_state)
bulk('HSET', errors, w_error)
bulk('HSET', finished, w_finished)
bulk('HDEL', tokens, gone)
bulk('HDEL', cancels, gone)
bulk('ZREM', active, gone)
bulk('ZADD', final_set, w_final)
if final_state == 'dead' then count_event(totals, stats, now, stats_ttl, 'failed', per_task) end
count_event(totals, stats, now, stats_ttl, final_state, per_task)
return verdicts
