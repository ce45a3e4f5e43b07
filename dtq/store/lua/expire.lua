#!lua flags=allow-oom
-- Retention: delete finished records whose time is up (succeeded and cancelled ones older than
-- their retention, dead ones older than the dead TTL or beyond the dead-letter cap, oldest
-- first), forget expired idempotency keys, and drop per-minute counters older than their retention. Bounded by ARGV[1] per kind, so a large backlog
-- is deleted over several calls without blocking Redis.
--
-- KEYS[1]     dtq:{q}:succeeded   zset, score = ms it succeeded
-- KEYS[2]     dtq:{q}:cancelled   zset, score = ms it was cancelled
-- KEYS[3]     dtq:{q}:dead        zset, score = ms it died
-- KEYS[4]     dtq:{q}:idem        hash
-- KEYS[5]     dtq:{q}:idem:exp    zset
-- KEYS[6]     dtq:{q}:activity    hash "<minute>:<event>" -> n; field "trimmed" = last minute dropped
-- KEYS[7]     dtq:{q}:dead:unrunnable zset, the dead that never ran (a subset of the dead)
-- KEYS[8..14] dtq:{q}:t:<column>, every column of the task table
-- ARGV[1] most records of each kind to delete   ARGV[2] retention of succeeded and cancelled, ms
-- ARGV[3] dead TTL, ms   ARGV[4] dead-letter cap (for those that ran)
-- ARGV[5] retention of per-minute counters, ms   ARGV[6] cap on the dead that never ran
-- Returns: {finished records deleted, dead records deleted, idempotency keys forgotten,
--           1 if more remain to delete else 0}
-- @include now
-- @include bulk
-- @include events
local succeeded, cancelled, dead, idem, idem_exp, activity, unrunnable =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local limit, finished_ttl, dead_ttl, dead_max, stats_ttl, unrunnable_max = tonumber(ARGV[1]), tonumber(ARGV[2]),
  tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local now = now_ms()

local function forget(ids)
  for k = 8, #KEYS do bulk('HDEL', KEYS[k], ids) end
end
local more = 0
local function due(key, upto)
  local ids = redis.call('ZRANGE', key, '-inf', upto, 'BYSCORE', 'LIMIT', 0, limit)
  if #ids == limit then more = 1 end
  return ids
end

local finished_count = 0
for _, key in ipairs({succeeded, cancelled}) do
  local ids = due(key, now - finished_ttl)
  if #ids > 0 then bulk('ZREM', key, ids); forget(ids); finished_count = finished_count + #ids end
end

-- Dead letters: past their TTL; then tasks that never ran (a producer's junk names) beyond
-- their own cap; then those that ran beyond theirs. Each cap counts only its own kind, so a
-- flood of tasks nobody can run never pushes out the failures someone must look at. Beyond
-- the expired ones (the lowest scores), each set is taken oldest first.
local cutoff = now - dead_ttl
local dead_ids = due(dead, cutoff)
local unrunnable_expired = redis.call('ZCOUNT', unrunnable, '-inf', cutoff)
local unrunnable_left = redis.call('ZCARD', unrunnable) - unrunnable_expired
local over = unrunnable_left - unrunnable_max
if over > 0 then
  if over > limit then more = 1 end
  local extra = redis.call('ZRANGE', unrunnable, unrunnable_expired, unrunnable_expired + math.min(over, limit) - 1)
  for _, id in ipairs(extra) do dead_ids[#dead_ids + 1] = id end
end
local dead_expired = redis.call('ZCOUNT', dead, '-inf', cutoff)
over = redis.call('ZCARD', dead) - dead_expired - unrunnable_left - dead_max
if over > 0 then
  if over > limit then more = 1 end
  local wanted, rank = math.min(over, limit), dead_expired
  while wanted > 0 do  -- skipping the ones that never ran: at most their cap plus a page
    local page = redis.call('ZRANGE', dead, rank, rank + limit - 1)
    if #page == 0 then break end
    rank = rank + #page
    for _, id in ipairs(page) do
      if wanted > 0 and not redis.call('ZSCORE', unrunnable, id) then dead_ids[#dead_ids + 1] = id; wanted = wanted - 1 end
    end
  end
end
if #dead_ids > 0 then bulk('ZREM', dead, dead_ids); bulk('ZREM', unrunnable, dead_ids); forget(dead_ids) end

local keys = due(idem_exp, now)
if #keys > 0 then bulk('ZREM', idem_exp, keys); bulk('HDEL', idem, keys) end

-- Per-minute counters: drop every minute since the last one dropped, up to the cutoff.
local cutoff = math.floor((now - stats_ttl) / 60000)
local trimmed = tonumber(redis.call('HGET', activity, 'trimmed') or (cutoff - 1))
local upto = math.min(cutoff, trimmed + 180)
if upto > trimmed then
  local fields = {}
  for minute = trimmed + 1, upto do
    for _, event in ipairs(EVENTS) do
      fields[#fields + 1] = minute .. ':' .. event
    end
  end
  bulk('HDEL', activity, fields)
  redis.call('HSET', activity, 'trimmed', upto)
  if upto < cutoff then more = 1 end
end
return {finished_count, #dead_ids, #keys, more}
