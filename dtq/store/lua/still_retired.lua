#!lua flags=no-writes
-- Whether a queue taken out of the index is still retired: its mark is there and it holds no
-- task. An enqueue that landed between retire.lua and the removal from the index took the mark
-- away; the caller then puts the queue back.
--
-- KEYS[1] dtq:{q}:t:task   hash (column `spec`): every stored task has its record here
-- KEYS[2] dtq:{q}:retired  string
-- Returns: 1 = still retired, 0 = in use again (put it back in the index)
if redis.call('EXISTS', KEYS[2]) == 1 and redis.call('HLEN', KEYS[1]) == 0 then return 1 end
return 0
