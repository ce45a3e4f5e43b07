-- Leasing: what taking tasks for a worker does, shared by claim.lua (a worker asks) and
-- enqueue.lua (a parked worker is handed what is enqueued: one hop instead of two). Needs
-- includes bulk and run.
--
-- Parked workers, hash dtq:{q}:parked: lease token -> "<expiry ms>:<free slots>:<lease ms>". A
-- claim that leaves its worker with free slots and the queue with nothing queued parks the
-- worker under the token of its next claim. An enqueue that finds nothing else queued and the
-- queue not paused leases its new tasks to a parked token, highest priority first, exactly as
-- that claim would have, and sends them to the worker on its own channel. The token's claim
-- record is written as for any claim, so the worker's next claim with that token (a resend)
-- gets the same tasks back: a lost message loses no task. A parked entry lives a few idle
-- polls; a worker refreshes it with each empty claim, and any claim of its removes it.

-- Lease `taken` ({id, record, ready ms} per task) to the claim `token` until now + lease_ms:
-- active, the attempt counted in the run record, and the batch remembered under `claim_record`
-- for `memory` ms. Appends per task id, record, attempt, ready ms to `out`.
local function lease_to(token, taken, states, runs, active, claim_record, lease_ms, memory, now, out)
  local ids = {}
  for n, t in ipairs(taken) do ids[n] = t[1] end
  local previous = hmget(runs, ids)
  local expiry = now + lease_ms
  local w_state, w_run, w_active, remembered = {}, {}, {}, {}
  for n, id in ipairs(ids) do
    local attempt = run_fields(previous[n]) + 1
    w_state[#w_state + 1] = id; w_state[#w_state + 1] = 'active'
    w_run[#w_run + 1] = id; w_run[#w_run + 1] = run_record(attempt, now, token)
    w_active[#w_active + 1] = expiry; w_active[#w_active + 1] = id
    out[#out + 1] = id
    out[#out + 1] = taken[n][2]
    out[#out + 1] = attempt
    out[#out + 1] = taken[n][3]
    remembered[n] = id .. '@' .. taken[n][3]
  end
  bulk('HSET', states, w_state)
  bulk('HSET', runs, w_run)
  bulk('ZADD', active, w_active)
  redis.call('SET', claim_record, table.concat(remembered, ','), 'PX', memory)
end

local function park(parked, token, slots, lease_ms, ttl, now)
  redis.call('HSET', parked, token, (now + ttl) .. ':' .. slots .. ':' .. lease_ms)
end

-- A parked token with its free slots and lease ms, or nil; entries past their expiry go.
local function next_parked(parked, now)
  local flat = redis.call('HGETALL', parked)
  for i = 1, #flat, 2 do
    local expiry, slots, lease_ms = string.match(flat[i + 1], '^(%d+):(%d+):(%d+)$')
    redis.call('HDEL', parked, flat[i])
    if tonumber(expiry or 0) > now then return flat[i], tonumber(slots), tonumber(lease_ms) end
  end
  return nil
end

-- The message handing leased tasks to a worker (dtq/store/handover.py reads it): a line
-- "take <token> <now ms> <tasks>", then per task a line "<id> <attempt> <ready ms> <record
-- length>" and the record's bytes, so any record travels as it is stored. `leased` is `out`
-- of lease_to().
local function handover_message(token, now, leased)
  local parts = {'take ' .. token .. ' ' .. now .. ' ' .. (#leased / 4) .. '\n'}
  for i = 1, #leased, 4 do
    local record = leased[i + 1] or ''
    parts[#parts + 1] = leased[i] .. ' ' .. leased[i + 2] .. ' ' .. leased[i + 3] .. ' ' .. #record .. '\n'
    parts[#parts + 1] = record
  end
  return table.concat(parts)
end
