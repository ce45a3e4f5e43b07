#!lua flags=allow-oom
-- Claim up to N ready tasks for one worker: move them into the active set with a lease, record
-- the attempt and the lease token in their run record, and return what the worker needs to run
-- them. Strict mode takes the highest levels first, oldest first in each; weighted mode visits
-- the priority levels in the order the worker drew. allow-oom: it moves tasks, it adds none.
--
-- A claim that leaves its worker with free slots and nothing queued parks the worker under the
-- token of its next claim (ARGV[7]), so the next enqueue leases its tasks to it at once
-- (include lease); any claim with a token unparks that token first.
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
-- KEYS[1] dtq:{q}:queued  hash level -> queued count; the lists dtq:{q}:queued:<level>
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
-- KEYS[10] dtq:{q}:parked hash token -> parked worker (include lease)
-- ARGV[1] most tasks to claim   ARGV[2] lease, ms   ARGV[3] lease token ("<worker id>#<n>", no '|')
-- ARGV[4] '' for strict order, else priority levels to visit, comma separated (e.g. '7,9,8')
-- ARGV[5] the token of this worker's previous, answered claim on this queue ('' = none)
-- ARGV[6] ms to remember a claim nobody forgets (several leases)
-- ARGV[7] the token to park under if this claim leaves free slots and nothing queued ('' = never)
-- ARGV[8] ms a parked entry lives unless refreshed
-- Returns: {now ms, ready left (-1 = queue paused), 1 if the worker is now parked else 0, then
--           per task 4 values: id, record JSON (false if missing), attempt number, ms it became ready}
-- @include now
-- @include priority
-- @include bulk
-- @include queued
-- @include spec
-- @include run
-- @include lease
local queued, active, paused, spec_col, states, runs, dead, errors, parked =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[8], KEYS[9], KEYS[10]
local record = KEYS[7] .. ARGV[3]
local want, lease, token, order = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local forget, memory, park_token, park_ttl = ARGV[5], tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
local now = now_ms()

if forget ~= '' then redis.call('DEL', KEYS[7] .. forget) end
redis.call('HDEL', parked, token)  -- a parked worker claiming for itself is parked no longer

local earlier = redis.call('GET', record)
if earlier then
  -- A repeat: answer with what this token claimed and still holds, or can take back.
  local ids, ready_at = {}, {}
  for id, at in string.gmatch(earlier, '([^@,]+)@(%d+)') do ids[#ids + 1] = id; ready_at[#ids] = at end
  local current, runs_now, specs = hmget(states, ids), hmget(runs, ids), hmget(spec_col, ids)
  local out = {now, 0, 0}
  local back, back_levels, w_state, w_run, w_active = {}, {}, {}, {}, {}
  for n, id in ipairs(ids) do
    local run, state = runs_now[n], current[n]
    local waiting = is_queued(state, specs[n])
    if claimed_with(run, token) and (state == 'active' or waiting or state == 'dead') then
      local attempt = run_fields(run)
      if state ~= 'active' then
        -- Attempt 0 only after a redrive reset the count: this run starts the task's new life.
        attempt = math.max(attempt, 1)
        back[#back + 1] = id
        if waiting then back_levels[#back_levels + 1] = priority_of(specs[n]) end
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
    uncount(queued, back_levels)  -- their entries are stale now: whoever pops them passes them
    bulk('ZREM', dead, back)
    bulk('HDEL', errors, back)
    bulk('HSET', states, w_state)
    bulk('HSET', runs, w_run)
    bulk('ZADD', active, w_active)
  end
  out[2] = queued_total(queued)
  return out
end

if redis.call('EXISTS', paused) == 1 then return {now, -1, 0} end

local levels = {}
if order == '' then
  local counts = queued_counts(queued)
  for level = HIGHEST_PRIORITY, 0, -1 do
    if (counts[level] or 0) > 0 then levels[#levels + 1] = level end
  end
else
  for level in string.gmatch(order, '%d') do levels[#levels + 1] = tonumber(level) end
end
local taken, seen = {}, {}  -- {id, record, ready ms} per task
for _, level in ipairs(levels) do
  local need = want - #taken
  if need <= 0 then break end
  pop_queued(queued, level, need, states, spec_col, seen, taken)
end
local left = queued_total(queued)
local out = {now, left, 0}
-- (A token that holds a claim record was handed tasks already, by an earlier send of this claim
-- that parked it: never twice, or the second batch would overwrite the first's record.)
if left == 0 and #taken < want and park_token ~= '' and redis.call('EXISTS', KEYS[7] .. park_token) == 0 then
  park(parked, park_token, want - #taken, lease, park_ttl, now)
  out[3] = 1
end
if #taken > 0 then lease_to(token, taken, states, runs, active, record, lease, memory, now, out) end
return out
