#!lua flags=allow-oom
-- Claim up to N ready tasks for one worker: move them into the active set with a lease, record
-- the attempt and the lease token in their run record, and return what the worker needs to run
-- them. Strict mode pops the lowest scores (highest priority, then oldest); weighted mode visits
-- the priority levels in the order the worker drew. allow-oom: it moves tasks, it adds none.
--
-- Idempotent per token: the batch is remembered under its token, and a repeated claim with that
-- token (a resend after a lost or late reply) returns the same tasks instead of claiming more, so
-- no task is left leased to a worker that never heard of it. A worker resends a token only while
-- it has not heard the answer, so it cannot have run those tasks: any of them whose lease lapsed
-- meanwhile (requeued, or dead-lettered as its last attempt) and that nobody claimed since is
-- taken back for it, as the same attempt, with a fresh lease. The worker's next claim on the
-- queue names its previous, answered token, whose record is then deleted; a record nobody
-- forgets expires after ARGV[6] ms.
--
-- KEYS[1] dtq:{q}:ready   zset
-- KEYS[2] dtq:{q}:active  zset
-- KEYS[3] dtq:{q}:paused  string
-- KEYS[4] dtq:{q}:t:task  hash (column `spec`) id -> record JSON
-- KEYS[5] dtq:{q}:t:state hash id -> state
-- KEYS[6] dtq:{q}:t:run   hash id -> "attempt|started ms|lease token"
-- KEYS[7] dtq:{q}:claim:  prefix; + token = string "id@ready ms,..." of that claim
--                         (one script touches all nine keys: a claim is one round trip, 0.5 Redis
--                         commands per task drained, bench/results/latest.md)
-- KEYS[8] dtq:{q}:dead    zset
-- KEYS[9] dtq:{q}:t:error hash id -> error JSON
-- ARGV[1] most tasks to claim   ARGV[2] lease, ms   ARGV[3] lease token ("<worker id>#<n>", no '|')
-- ARGV[4] '' for strict order, else priority levels to visit, comma separated (e.g. '7,9,8')
-- ARGV[5] the token of this worker's previous, answered claim on this queue ('' = none)
-- ARGV[6] ms to remember a claim nobody forgets (several leases)
-- Returns: {now ms, ready left (-1 = queue paused), then per task 4 values:
--           id, record JSON (false if missing), attempt number, ms it became ready}
-- @include now
-- @include band
-- @include bulk
-- @include run
local ready, active, paused, spec_col, states, runs, dead, errors =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[8], KEYS[9]
local record = KEYS[7] .. ARGV[3]
local want, lease, token, order = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local forget, memory = ARGV[5], tonumber(ARGV[6])
local now = now_ms()

if forget ~= '' then redis.call('DEL', KEYS[7] .. forget) end

local earlier = redis.call('GET', record)
if earlier then
  -- A repeat: answer with what this token claimed and still holds, or can take back.
  local ids, ready_at = {}, {}
  for id, at in string.gmatch(earlier, '([^@,]+)@(%d+)') do ids[#ids + 1] = id; ready_at[#ids] = at end
  local current, runs_now, specs = hmget(states, ids), hmget(runs, ids), hmget(spec_col, ids)
  local out = {now, 0}
  local back, w_state, w_run, w_active = {}, {}, {}, {}
  for n, id in ipairs(ids) do
    local run, state = runs_now[n], current[n]
    if claimed_with(run, token) and (state == 'active' or state == 'queued' or state == 'dead') then
      local attempt = run_fields(run)
      if state ~= 'active' then
        -- Attempt 0 only after a redrive reset the count: this run starts the task's new life.
        attempt = math.max(attempt, 1)
        back[#back + 1] = id
        w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'active'
        w_run[#w_run + 1] = id; w_run[#w_run + 1] = run_record(attempt, now, token)
        w_active[#w_active + 1] = now + lease; w_active[#w_active + 1] = id
      end
      out[#out + 1] = id
      out[#out + 1] = specs[n]
      out[#out + 1] = attempt
      out[#out + 1] = tonumber(ready_at[n])
    end
  end
  if #back > 0 then
    bulk('ZREM', ready, back)
    bulk('ZREM', dead, back)
    bulk('HDEL', errors, back)
    bulk('HSET', states, w_state)
    bulk('HSET', runs, w_run)
    bulk('ZADD', active, w_active)
  end
  out[2] = redis.call('ZCARD', ready)
  return out
end

if redis.call('EXISTS', paused) == 1 then return {now, -1} end

local popped = {}  -- flat id, score pairs
if order == '' then
  popped = redis.call('ZPOPMIN', ready, want)
else
  for level in string.gmatch(order, '%d') do
    local need = want - #popped / 2
    if need <= 0 then break end
    local low = ready_score(level, 0)
    local got = redis.call('ZRANGE', ready, low, low + BAND - 1, 'BYSCORE', 'LIMIT', 0, need, 'WITHSCORES')
    if #got > 0 then
      local ids = {}
      for i = 1, #got, 2 do ids[#ids + 1] = got[i]; popped[#popped + 1] = got[i]; popped[#popped + 1] = got[i + 1] end
      bulk('ZREM', ready, ids)
    end
  end
end
if #popped == 0 then return {now, 0} end

local ids = {}
for i = 1, #popped, 2 do ids[#ids + 1] = popped[i] end
local specs, previous = hmget(spec_col, ids), hmget(runs, ids)
local expiry = now + lease
local out = {now, redis.call('ZCARD', ready)}
local w_state, w_run, w_active, remembered = {}, {}, {}, {}
for n, id in ipairs(ids) do
  local attempt = run_fields(previous[n]) + 1
  w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'active'
  w_run[#w_run + 1] = id; w_run[#w_run + 1] = run_record(attempt, now, token)
  w_active[#w_active + 1] = expiry; w_active[#w_active + 1] = id
  out[#out + 1] = id
  out[#out + 1] = specs[n]
  out[#out + 1] = attempt
  out[#out + 1] = tonumber(popped[2 * n]) % BAND
  remembered[n] = id .. '@' .. out[#out]
end
bulk('HSET', states, w_state)
bulk('HSET', runs, w_run)
bulk('ZADD', active, w_active)
redis.call('SET', record, table.concat(remembered, ','), 'PX', memory)
return out
