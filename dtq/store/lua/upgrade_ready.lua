#!lua flags=allow-oom
-- Move a queue's queued tasks from dtq 0.1's layout, one sorted set `ready` scored
-- (9 - priority) * 2^42 + ms it became ready, to the queued lists (include queued), and drop the
-- `t:prio` column once nothing is left in that set. Youngest first, each batch at the head of its
-- level, so the lists end oldest first ahead of anything enqueued since; bounded per call so a
-- large backlog moves over several calls. allow-oom: it moves tasks, and frees more than it adds.
--
-- KEYS[1] dtq:{q}:ready     zset, dtq 0.1's layout
-- KEYS[2] dtq:{q}:queued    hash level -> queued count; the lists dtq:{q}:queued:<level>
-- KEYS[3] dtq:{q}:t:task    hash (column `spec`)
-- KEYS[4] dtq:{q}:t:state   hash
-- KEYS[5] dtq:{q}:t:prio    hash id -> priority, dtq 0.1's layout
-- ARGV[1] most tasks to move
-- Returns: {tasks moved, tasks left in the old set}
-- @include priority
-- @include bulk
-- @include queued
local ready, queued, spec_col, states, prios = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local limit = tonumber(ARGV[1])
local BAND = 4398046511104

local tail = redis.call('ZRANGE', ready, -limit, -1, 'WITHSCORES')
local ids, scores = {}, {}
for i = 1, #tail, 2 do ids[#ids + 1] = tail[i]; scores[#ids] = tonumber(tail[i + 1]) end
local moved = 0
if #ids > 0 then
  local current, specs = hmget(states, ids), hmget(spec_col, ids)
  local pushes, queued_ids = new_pushes(), {}
  for n, id in ipairs(ids) do
    if is_queued(current[n], specs[n]) then
      local at = scores[n] % BAND
      add_push(pushes, HIGHEST_PRIORITY - (scores[n] - at) / BAND, id, at)
      queued_ids[#queued_ids + 1] = id
    end
  end
  bulk('ZREM', ready, ids)
  if #queued_ids > 0 then bulk('HDEL', states, queued_ids) end
  moved = push(queued, pushes, true)
end
local left = redis.call('ZCARD', ready)
if left == 0 then redis.call('DEL', prios) end
return {moved, left}
