#!lua flags=allow-oom
-- Take back tasks a bulk request stored when another part of it could not be stored (Redis
-- full), so the request stores all or none. A task a worker claimed in between is left to run,
-- and named in the reply.
--
-- KEYS[1] dtq:{q}:queued    hash level -> queued count (include queued)
-- KEYS[2] dtq:{q}:scheduled zset
-- KEYS[3] dtq:{q}:idem      hash key -> id
-- KEYS[4] dtq:{q}:idem:exp  zset
-- KEYS[5] dtq:{q}:t:state   hash
-- KEYS[6..12] dtq:{q}:t:<column>, every column of the task table, in keys.py COLUMNS order
--             (KEYS[6] is t:task)
-- ARGV[1..] pairs: task id, its idempotency key ('' for none)
-- Returns: the ids that could not be taken back (no longer waiting)
-- @include priority
-- @include bulk
-- @include queued
-- @include spec
local queued, scheduled, idem, idem_exp, states, spec_col = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local gone, kept, keys, levels = {}, {}, {}, {}
local i = 1
while i <= #ARGV do
  local id, key = ARGV[i], ARGV[i + 1]
  i = i + 2
  local spec = redis.call('HGET', spec_col, id)
  local state = spec and (redis.call('HGET', states, id) or 'queued')
  if state == 'queued' or state == 'scheduled' then
    gone[#gone + 1] = id
    if state == 'queued' then levels[#levels + 1] = priority_of(spec) end
    if key ~= '' and redis.call('HGET', idem, key) == id then keys[#keys + 1] = key end
  elseif state then
    kept[#kept + 1] = id
  end
end
if #gone > 0 then
  uncount(queued, levels)  -- their entries are stale now: whoever pops them passes them
  bulk('ZREM', scheduled, gone)
  for k = 6, #KEYS do bulk('HDEL', KEYS[k], gone) end
end
if #keys > 0 then bulk('HDEL', idem, keys); bulk('ZREM', idem_exp, keys) end
return kept
