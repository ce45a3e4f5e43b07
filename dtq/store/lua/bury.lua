#!lua flags=allow-oom
-- End held tasks in a final state other than success: active -> dead (retries exhausted, an
-- Abort, an unknown or undecodable task) or active -> cancelled (the handler stopped after a
-- cancel request).
--
-- KEYS[1] dtq:{q}:active   zset
-- KEYS[2] dtq:{q}:dead or :cancelled  zset, score = ms it ended
-- KEYS[3] dtq:{q}:t:state  hash
-- KEYS[4] dtq:{q}:t:run    hash
-- KEYS[5] dtq:{q}:t:error  hash id -> error JSON
-- KEYS[6] dtq:{q}:t:cancel hash
-- KEYS[7] dtq:{q}:totals   hash
-- KEYS[8] dtq:{q}:activity hash "<minute>:<event>" -> n
-- KEYS[9] dtq:{q}:dead:unrunnable zset, the dead that never ran (no handler, undecodable)
-- ARGV[1] final state: 'dead', 'cancelled', or 'unrunnable' (dead, and kept under its own cap)
-- ARGV[2..] groups: lease token, task name, count, then per task: id, error JSON
-- Returns: per task, in argument order, 1 = recorded, 0 = lease lost (nothing written for it)
-- @include now
-- @include bulk
-- @include run
-- @include count
-- @include groups
-- @include held
local active, final_set, states, runs, errors, cancels, totals, stats, unrunnable =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local final_state = ARGV[1]
local never_ran = final_state == 'unrunnable'
if never_ran then final_state = 'dead' end
if final_state ~= 'dead' and final_state ~= 'cancelled' then
  return redis.error_reply('bury: final state must be dead, cancelled or unrunnable')
end
local now = now_ms()

local list = entries(2, 2)
local verdicts, kept = check_held(states, runs, list)
if #kept == 0 then return verdicts end
local gone = ids_at(list, kept)
local w_state, w_error, w_final, per_task = {}, {}, {}, {}
for _, n in ipairs(kept) do
  local id, name = list.ids[n], list.names[n]
  w_state[#w_state + 1] = id; w_state[#w_state + 1] = final_state
  w_error[#w_error + 1] = id; w_error[#w_error + 1] = ARGV[list.at[n] + 1]
  w_final[#w_final + 1] = now; w_final[#w_final + 1] = id
  per_task[name] = (per_task[name] or 0) + 1
end
bulk('HSET', states, w_state)
bulk('HSET', errors, w_error)
if redis.call('HLEN', cancels) > 0 then bulk('HDEL', cancels, gone) end
bulk('ZREM', active, gone)
bulk('ZADD', final_set, w_final)
if never_ran then bulk('ZADD', unrunnable, w_final) end
if final_state == 'dead' then count_event(totals, stats, now, 'failed', per_task) end
count_event(totals, stats, now, final_state, per_task)
return verdicts
