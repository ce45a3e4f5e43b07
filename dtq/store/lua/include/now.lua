-- Redis's own clock in ms: every process compares times on this one clock, so a skewed
-- host clock can neither fire a task early nor expire a lease early.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
