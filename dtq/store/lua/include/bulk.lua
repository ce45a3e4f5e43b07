-- Run `cmd key args...` in chunks: Lua's unpack() stops near 8000 values, and a batch may be
-- larger. Chunks are even-sized so field/value and score/member pairs never split. `option`
-- (e.g. 'XX' for ZADD) goes before the arguments of every chunk.
local function bulk(cmd, key, args, option)
  for i = 1, #args, 4000 do
    if option then
      redis.call(cmd, key, option, unpack(args, i, math.min(i + 3999, #args)))
    else
      redis.call(cmd, key, unpack(args, i, math.min(i + 3999, #args)))
    end
  end
end

-- `cmd key fields...` for a read that answers one value per field (HMGET, ZMSCORE), chunked the
-- same way; returns one list in field order (false where a field is missing).
local function read_each(cmd, key, fields)
  local values = {}
  for i = 1, #fields, 4000 do
    local part = redis.call(cmd, key, unpack(fields, i, math.min(i + 3999, #fields)))
    for j = 1, #part do values[#values + 1] = part[j] end
  end
  return values
end

local function hmget(key, fields)
  return read_each('HMGET', key, fields)
end
