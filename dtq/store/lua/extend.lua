#!lua flags=allow-oom
-- Renew the leases of tasks the caller still holds, and tell it which were asked to cancel.
--
-- KEYS[1] dtq:{q}:active   zset, score = lease expiry ms
-- KEYS[2] dtq:{q}:t:state  hash id -> state
-- KEYS[3] dtq:{q}:t:run    hash id -> "attempt|started ms|lease token"
-- KEYS[4] dtq:{q}:t:cancel hash id -> ms of cancel request
-- ARGV[1] lease, ms
-- ARGV[2..] groups: lease token, task name (unused), count, then the task ids
-- Returns: per task, in argument order, 1 = renewed, 2 = renewed and a cancel was requested,
--          0 = lease lost
-- @include now
-- @include bulk
-- @include run
-- @include groups
-- @include held
local active, states, runs, cancels = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local lease = tonumber(ARGV[1])
local now = now_ms()

local list = entries(2, 1)
local verdicts, kept = check_held(states, runs, list)
local flags = redis.call('HLEN', cancels) > 0 and hmget(cancels, list.ids) or {}
local w_active = {}
for _, n in ipairs(kept) do
  w_active[#w_active + 1] = now + lease; w_active[#w_active + 1] = list.ids[n]
  if flags[n] then verdicts[n] = 2 end
end
if #w_active > 0 then bulk('ZADD', active, w_active, 'XX') end
return verdicts
