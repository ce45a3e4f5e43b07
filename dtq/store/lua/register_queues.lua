#!lua
-- Add queues to the index of known queues, all or none, within the cap on how many may exist.
--
-- KEYS[1] dtq:{@}:queues  set of queue names
-- ARGV[1] most queues that may exist
-- ARGV[2..] queue names
-- Returns: the names that were not known and were refused (empty: all are in the index now)
local index, cap = KEYS[1], tonumber(ARGV[1])
local new = {}
for i = 2, #ARGV do
  if redis.call('SISMEMBER', index, ARGV[i]) == 0 then new[#new + 1] = ARGV[i] end
end
if #new == 0 then return {} end
if redis.call('SCARD', index) + #new > cap then return new end
redis.call('SADD', index, unpack(new))
return {}
