#!lua flags=allow-oom
-- Renew the leases of tasks the caller still holds, and tell it which were asked to cancel.
--
-- KEYS[1] dtq:{q}:active     zset, score = lease expiry ms
-- KEYS[2] dtq:{q}:t:token    hash id -> lease token
-- KEYS[3] dtq:{q}:t:cancel   hash id -> ms of cancel request
-- ARGV[1] lease, ms
-- ARGV[2..] per task, 2 values: id, lease token
-- Returns: per task 1 = renewed, 2 = renewed and a cancel was requested, 0 = lease lost
-- @include now
-- @include bulk
-- @include held
local active, tokens, cancels = KEYS[1], KEYS[2], KEYS[3]
local lease = tonumber(ARGV[1])
local now = now_ms()

local ids, kept, verdicts = held_groups(tokens, 2, 2)
if #kept == 0 then return verdicts end
local flags = hmget(cancels, ids)
local w_active = {}
for n = 1, #ids do
  if verdicts[n] == 1 then
    w_active[#w_active + 1] = now + lease; w_active[#w_active + 1] = ids[n]
    if flags[n] then verdicts[n] = 2 end
  end
end
bulk('ZADD', active, w_active, 'XX')
return verdicts
