#!lua flags=allow-oom
-- Take one permit from a rate limit shared by every API process (GCRA: a request is allowed
-- while the limit's "theoretical arrival time" is less than a burst ahead of now).
--
-- KEYS[1] dtq:rate:<subject>  string, the theoretical arrival time, ms (expires when idle)
-- ARGV[1] ms per permit (1000 / rate per second)
-- ARGV[2] burst: permits that may be taken at once
-- Returns: 0 = taken; else the ms until one could be
-- @include now
local key = KEYS[1]
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_ms()
local arrival = math.max(tonumber(redis.call('GET', key)) or now, now)
local wait = arrival - (burst - 1) * interval - now
if wait > 0 then return math.ceil(wait) end
arrival = arrival + interval
-- A tiny write, allowed under maxmemory: refusing it would turn a full Redis into 503s for reads.
redis.call('SET', key, tostring(arrival), 'PX', math.ceil(arrival - now) + 1000)
return 0
