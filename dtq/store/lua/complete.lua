#!lua flags=allow-oom
-- Record the success of tasks: active -> succeeded. A stale caller (the task was claimed again
-- since, or finished otherwise) is refused per task, so it cannot overwrite the outcome of a
-- newer attempt. A success that arrives after its lease lapsed is still the truth when no newer
-- attempt started: the task, requeued or dead-lettered by lease recovery and not claimed since
-- (its run record still ends with the caller's token), is taken out of line and recorded as
-- succeeded, so a task that ran to the end is neither run again nor left dead.
--
-- KEYS[1]  dtq:{q}:active    zset
-- KEYS[2]  dtq:{q}:succeeded zset, score = ms it succeeded
-- KEYS[3]  dtq:{q}:t:state   hash
-- KEYS[4]  dtq:{q}:t:run     hash
-- KEYS[5]  dtq:{q}:t:result  hash id -> result JSON
-- KEYS[6]  dtq:{q}:t:cancel  hash
-- KEYS[7]  dtq:{q}:totals    hash event|task -> n
-- KEYS[8]  dtq:{q}:activity  hash "<minute>:<event>" -> n
-- KEYS[9]  dtq:{q}:queued    hash level -> queued count (include queued)
-- KEYS[10] dtq:{q}:dead      zset
-- KEYS[11] dtq:{q}:t:error   hash
-- KEYS[12] dtq:{q}:t:task    hash (column `spec`), for the priority of a task taken back
-- ARGV[1..] groups: lease token, task name, count, then per task: id, result JSON ('' = none)
-- Returns: per task, in argument order, 1 = recorded, 2 = recorded after its lease lapsed
--          (taken back from the ready or dead set), 0 = refused (nothing written for it)
-- @include now
-- @include priority
-- @include bulk
-- @include queued
-- @include spec
-- @include run
-- @include count
-- @include groups
-- @include held
local active, succeeded, states, runs, results, cancels, totals, stats, queued, dead, errors, spec_col =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local now = now_ms()

local list = entries(1, 2)
local verdicts, kept = check_held(states, runs, list)
if #kept < #list.ids then
  local lapsed = find_lapsed(states, runs, list, verdicts, {queued = true, dead = true})
  if #lapsed > 0 then
    local ids = ids_at(list, lapsed)
    local current, specs = hmget(states, ids), hmget(spec_col, ids)
    local levels = {}
    for n = 1, #ids do
      if is_queued(current[n], specs[n]) then levels[#levels + 1] = priority_of(specs[n]) end
    end
    uncount(queued, levels)  -- their entries are stale now: whoever pops them passes them
    bulk('ZREM', dead, ids)
    bulk('HDEL', errors, ids)
    for _, n in ipairs(lapsed) do
      verdicts[n] = 2
      kept[#kept + 1] = n
    end
  end
end
if #kept == 0 then return verdicts end
local gone = ids_at(list, kept)
local w_state, w_result, w_done, per_task = {}, {}, {}, {}
for _, n in ipairs(kept) do
  local id, result, name = list.ids[n], ARGV[list.at[n] + 1], list.names[n]
  w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'succeeded'
  if result ~= '' then w_result[#w_result + 1] = id; w_result[#w_result + 1] = result end
  w_done[#w_done + 1] = now; w_done[#w_done + 1] = id
  per_task[name] = (per_task[name] or 0) + 1
end
bulk('HSET', states, w_state)
if #w_result > 0 then bulk('HSET', results, w_result) end
if redis.call('HLEN', cancels) > 0 then bulk('HDEL', cancels, gone) end
bulk('ZREM', active, gone)
bulk('ZADD', succeeded, w_done)
count_event(totals, stats, now, 'succeeded', per_task)
return verdicts
