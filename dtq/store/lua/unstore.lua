#!lua flags=allow-oom
-- Take back tasks a bulk request stored when another part of it could not be stored (Redis
-- full), so the request stores all or none. A task a worker claimed in between is left to run,
-- and named in the reply.
--
-- KEYS[1] dtq:{q}:ready     zset
-- KEYS[2] dtq:{q}:scheduled zset
-- KEYS[3] dtq:{q}:idem      hash key -> id
-- KEYS[4] dtq:{q}:idem:exp  zset
-- KEYS[5] dtq:{q}:t:state   hash
-- KEYS[6..13] dtq:{q}:t:<column>, every column of the task table
-- ARGV[1..] pairs: task id, its idempotency key ('' for none)
-- Returns: the ids that could not be taken back (no longer waiting)
-- @include bulk
local ready, scheduled, idem, idem_exp, states = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local gone, kept, keys = {}, {}, {}
local i = 1
while i <= #ARGV do
  local id, key = ARGV[i], ARGV[i + 1]
  i = i + 2
  local state = redis.call('HGET', states, id)
  if state == 'queued' or state == 'scheduled' then
    gone[#gone + 1] = id
    if key ~= '' and redis.call('HGET', idem, key) == id then keys[#keys + 1] = key end
  elseif state then
    kept[#kept + 1] = id
  end
end
if #gone > 0 then
  bulk('ZREM', ready, gone)
  bulk('ZREM', scheduled, gone)
  for k = 6, #KEYS do bulk('HDEL', KEYS[k], gone) end
end
if #keys > 0 then bulk('HDEL', idem, keys); bulk('ZREM', idem_exp, keys) end
return kept
