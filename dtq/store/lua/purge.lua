#!lua flags=allow-oom
-- Delete dead tasks for good: their entry in the dead set and every column of their record.
-- Ids that are not dead are skipped, so a purge never deletes a task that was redriven.
--
-- KEYS[1]     dtq:{q}:dead        zset
-- KEYS[2]     dtq:{q}:dead:unrunnable zset, the dead that never ran
-- KEYS[3..9]  dtq:{q}:t:<column>, every column of the task table (see keys.py COLUMNS)
-- ARGV[1..] task ids
-- Returns: number of tasks deleted
-- @include bulk
local dead, unrunnable = KEYS[1], KEYS[2]

local ids = {}
for i = 1, #ARGV do
  if redis.call('ZSCORE', dead, ARGV[i]) then ids[#ids + 1] = ARGV[i] end
end
if #ids == 0 then return 0 end
bulk('ZREM', dead, ids)
bulk('ZREM', unrunnable, ids)
for k = 3, #KEYS do bulk('HDEL', KEYS[k], ids) end
return #ids
