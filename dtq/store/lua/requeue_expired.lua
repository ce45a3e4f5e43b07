#!lua flags=allow-oom
-- Recover tasks whose lease expired (their worker died, froze, or lost Redis): active -> queued
-- at the head of its level (it was next when it was claimed), or -> dead once the lost run used up the last
-- attempt, so a task that kills its worker ends dead instead of looping. The lost run counts as a
-- failed attempt. A task whose cancel was requested ends cancelled. Back at the head, not at
-- the back, so a task whose worker died waits a lease, not a lease plus the whole backlog.
--
-- KEYS[1]  dtq:{q}:active    zset
-- KEYS[2]  dtq:{q}:queued    hash level -> queued count (include queued)
-- KEYS[3]  dtq:{q}:dead      zset
-- KEYS[4]  dtq:{q}:t:task    hash (column `spec`)
-- KEYS[5]  dtq:{q}:t:state   hash
-- KEYS[6]  dtq:{q}:t:run     hash
-- KEYS[7]  dtq:{q}:t:error   hash
-- KEYS[8]  dtq:{q}:t:cancel  hash
-- KEYS[9]  dtq:{q}:cancelled zset
-- KEYS[10] dtq:{q}:totals    hash
-- KEYS[11] dtq:{q}:activity  hash "<minute>:<event>" -> n
-- ARGV[1] most tasks to recover   ARGV[2] worker channel
-- Returns: {tasks requeued, tasks dead-lettered, tasks cancelled}
-- @include now
-- @include priority
-- @include bulk
-- @include queued
-- @include run
-- @include count
-- @include spec
-- @include settle_cancelled
local active, queued, dead, spec_col, states, runs, errors, cancels, cancelled, totals, stats =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local limit, worker_channel = tonumber(ARGV[1]), ARGV[2]
local now = now_ms()

local ids = redis.call('ZRANGE', active, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
if #ids == 0 then return {0, 0, 0} end
bulk('ZREM', active, ids)
local specs, records = hmget(spec_col, ids), hmget(runs, ids)
local decoded, names = {}, {}
for n = 1, #ids do
  decoded[n] = decode_spec(specs[n])
  names[n] = name_of(decoded[n])
end
local rest, n_cancelled = settle_cancelled(ids, names, cancels, states, cancelled, totals, stats, now)
local w_state, w_error, w_dead, w_queued = {}, {}, {}, {}
local ready = new_pushes()
local failed, retried, buried = {}, {}, {}
for _, n in ipairs(rest) do
  local id = ids[n]
  local attempt, started, token = run_fields(records[n])
  attempt = math.max(attempt, 1)
  local spec, name = decoded[n], names[n]
  local max_retries = max_retries_of(spec)
  failed[name] = (failed[name] or 0) + 1
  local fate = attempt > max_retries and 'dead' or 'queued'
  if fate == 'dead' then
    w_state[#w_state + 1] = id; w_state[#w_state + 1] = fate
  else
    w_queued[#w_queued + 1] = id
  end
  w_error[#w_error + 1] = id
  w_error[#w_error + 1] = cjson.encode({
    type = 'LeaseExpired',
    message = 'worker ' .. token_worker(token) .. ' stopped renewing the lease of attempt '
      .. attempt .. ' of ' .. (max_retries + 1),
  })
  if fate == 'dead' then
    w_dead[#w_dead + 1] = now; w_dead[#w_dead + 1] = id
    buried[name] = (buried[name] or 0) + 1
  else
    add_push(ready, priority_of(specs[n]), id, tonumber(started) or now)
    retried[name] = (retried[name] or 0) + 1
  end
end
if #w_state > 0 then bulk('HSET', states, w_state) end
if #w_error > 0 then bulk('HSET', errors, w_error) end
if #w_dead > 0 then bulk('ZADD', dead, w_dead) end
if #w_queued > 0 then
  bulk('HDEL', states, w_queued)
  push(queued, ready, true)
  redis.call('PUBLISH', worker_channel, 'ready')
end
count_event(totals, stats, now, 'failed', failed)
count_event(totals, stats, now, 'retried', retried)
count_event(totals, stats, now, 'dead', buried)
return {#w_queued, #w_dead / 2, n_cancelled}
