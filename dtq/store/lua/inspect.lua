#!lua flags=no-writes
-- Read whole task records: every column for every id, in one consistent snapshot.
--
-- KEYS[1..13] dtq:{q}:t:<column>, every column of the task table, in keys.py COLUMNS order
-- ARGV[1..] task ids
-- Returns: one list per column (in KEYS order), each with one value per id (false = unset)
local out = {}
for k = 1, #KEYS do
  local values = {}
  for i = 1, #ARGV, 4000 do
    local part = redis.call('HMGET', KEYS[k], unpack(ARGV, i, math.min(i + 3999, #ARGV)))
    for j = 1, #part do values[#values + 1] = part[j] end
  end
  out[k] = values
end
return out
