#!lua
-- Store new tasks: ready ones at the tail of their level's queued list, future ones into the
-- scheduled set. Idempotent: an id that already exists is left alone (a retried call stores
-- nothing twice), and an unexpired idempotency key returns the task it first created. When
-- nothing else is queued and a worker is parked, the new tasks are leased to it here and sent
-- on its channel, as its claim would have taken them (include lease); they are still reported
-- queued, the state they were stored in. No allow-oom flag: under maxmemory Redis refuses the
-- whole script before its first write.
--
-- KEYS[1]  dtq:{q}:queued    hash level -> queued count; the lists dtq:{q}:queued:<level>
-- KEYS[2]  dtq:{q}:scheduled zset
-- KEYS[3]  dtq:{q}:t:task    hash (column `spec`)
-- KEYS[4]  dtq:{q}:t:state   hash
-- KEYS[5]  dtq:{q}:t:due     hash id -> due ms
-- KEYS[6]  dtq:{q}:idem      hash key -> id
-- KEYS[7]  dtq:{q}:idem:exp  zset key, score = expiry ms
-- KEYS[8]  dtq:{q}:totals    hash event|task -> n
-- KEYS[9]  dtq:{q}:activity  hash "<minute>:<event>" -> n
-- KEYS[10] dtq:{q}:retired   string, present while the queue is out of the queue index
-- KEYS[11] dtq:{q}:paused    string
-- KEYS[12] dtq:{q}:active    zset
-- KEYS[13] dtq:{q}:t:run     hash
-- KEYS[14] dtq:{q}:claim:    prefix; + token = string "id@ready ms,..." of that claim
-- KEYS[15] dtq:{q}:parked    hash token -> parked worker (include lease)
-- ARGV[1] idempotency TTL, ms   ARGV[2] worker channel   ARGV[3] scheduler channel
-- ARGV[4] prefix of a worker's own channel (+ worker id)   ARGV[5] leases a claim record is kept
-- ARGV[6..] groups of tasks that share their options: priority 0-9, delay ms, at ms (0 = use
--           delay), task name, 1 if the tasks carry idempotency keys else 0, count; then per task:
--           id, record JSON, and (keyed groups only) the idempotency key
-- Returns: per task 3 values: code, id, state
--   1 = stored (id is the new task), 0 = this id already existed (nothing written),
--   2 = idempotency key seen (id is the first task's)
-- then 1 if the queue had been retired (the caller must put it back in the index), else 0
-- @include now
-- @include priority
-- @include bulk
-- @include queued
-- @include count
-- @include run
-- @include lease
local queued, scheduled, spec_col, states, dues, idem, idem_exp, totals, stats, retired =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local paused, active, runs, claim_prefix, parked = KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15]
local idem_ttl, worker_channel, scheduler_channel = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local inbox_prefix, memory_leases = ARGV[4], tonumber(ARGV[5])
local now = now_ms()

-- Read the groups into one row per task.
local ids, specs, prio_of, delay_of, at_of, name_of, key_of = {}, {}, {}, {}, {}, {}, {}
local i = 6
while i <= #ARGV do
  local prio, delay, at, name, keyed, count =
    ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), ARGV[i + 3], ARGV[i + 4] == '1', tonumber(ARGV[i + 5])
  i = i + 6
  for _ = 1, count do
    local n = #ids + 1
    ids[n], specs[n], prio_of[n], delay_of[n], at_of[n], name_of[n] = ARGV[i], ARGV[i + 1], prio, delay, at, name
    key_of[n] = keyed and ARGV[i + 2] or ''
    i = i + (keyed and 3 or 2)
  end
end

-- Validate and decide everything first; write only afterwards.
local existing = hmget(spec_col, ids)
local out, first_of_key, created = {}, {}, {}  -- key -> id; id -> state, for this call
local w_task, w_state, w_due, w_sched, w_idem, w_exp = {}, {}, {}, {}, {}, {}
local ready = {}  -- {priority, id, record} per task that is queued now
local per_task = {}
for n, id in ipairs(ids) do
  local spec, prio, delay, at, key, name = specs[n], prio_of[n], delay_of[n], at_of[n], key_of[n], name_of[n]
  local first = nil
  if key ~= '' then
    first = first_of_key[key]
    if not first then
      local known = redis.call('HGET', idem, key)
      local expiry = tonumber(redis.call('ZSCORE', idem_exp, key) or 0)
      if known and expiry > now and redis.call('HEXISTS', spec_col, known) == 1 then first = known end
    end
  end
  if existing[n] then
    out[#out + 1] = 0; out[#out + 1] = id; out[#out + 1] = redis.call('HGET', states, id) or 'queued'
  elseif first then
    out[#out + 1] = 2; out[#out + 1] = first
    out[#out + 1] = created[first] or redis.call('HGET', states, first) or 'queued'
  else
    local due = at > 0 and at or now + delay
    local state = due > now and 'scheduled' or 'queued'
    if key ~= '' then
      first_of_key[key] = id
      w_idem[#w_idem + 1] = key; w_idem[#w_idem + 1] = id
      w_exp[#w_exp + 1] = now + idem_ttl; w_exp[#w_exp + 1] = key
    end
    w_task[#w_task + 1] = id; w_task[#w_task + 1] = spec
    if state == 'queued' then
      ready[#ready + 1] = {tonumber(prio), id, spec}
    else
      w_state[#w_state + 1] = id; w_state[#w_state + 1] = state
      w_sched[#w_sched + 1] = due; w_sched[#w_sched + 1] = id
      w_due[#w_due + 1] = id; w_due[#w_due + 1] = due
    end
    created[id] = state
    per_task[name] = (per_task[name] or 0) + 1
    out[#out + 1] = 1; out[#out + 1] = id; out[#out + 1] = state
  end
end

-- Lease what fits to parked workers when nothing else is queued (so no task is passed over),
-- highest priority first, oldest first; queue the rest and wake the workers for them.
local function hand_over_or_queue(tasks)
  local rest = 1
  if redis.call('HLEN', parked) > 0 and queued_total(queued) == 0 and redis.call('EXISTS', paused) == 0 then
    for n, t in ipairs(tasks) do t[4] = n end  -- table.sort is not stable: FIFO by position
    table.sort(tasks, function(a, b) if a[1] ~= b[1] then return a[1] > b[1] end return a[4] < b[4] end)
    while rest <= #tasks do
      local token, slots, lease_ms = next_parked(parked, now)
      if not token then break end
      local taken = {}
      while rest <= #tasks and #taken < slots do
        taken[#taken + 1] = {tasks[rest][2], tasks[rest][3], now}
        rest = rest + 1
      end
      local leased = {}
      lease_to(token, taken, states, runs, active, claim_prefix .. token, lease_ms, lease_ms * memory_leases, now, leased)
      redis.call('PUBLISH', inbox_prefix .. token_worker(token), handover_message(token, now, leased))
    end
  end
  if rest > #tasks then return end
  local pushes = new_pushes()
  for n = rest, #tasks do add_push(pushes, tasks[n][1], tasks[n][2], now) end
  push(queued, pushes)
  redis.call('PUBLISH', worker_channel, 'ready')
end

if #w_task > 0 then
  bulk('HSET', spec_col, w_task)
  if #w_state > 0 then bulk('HSET', states, w_state) end
  if #w_due > 0 then bulk('HSET', dues, w_due) end
  if #w_idem > 0 then bulk('HSET', idem, w_idem); bulk('ZADD', idem_exp, w_exp) end
  if #ready > 0 then hand_over_or_queue(ready) end
  if #w_sched > 0 then bulk('ZADD', scheduled, w_sched); redis.call('PUBLISH', scheduler_channel, 'due') end
  count_event(totals, stats, now, 'enqueued', per_task)
end
out[#out + 1] = redis.call('DEL', retired)
return out
