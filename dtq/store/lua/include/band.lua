-- Ready-set score: priority band (9 = most urgent = lowest band) plus the ms the task became
-- ready, so ZPOPMIN yields strict priority, FIFO within a level. 2^42 ms is ~139 years, and
-- 10 bands stay below 2^53, where doubles are still exact integers. dtq/priority.py holds the
-- same constants; tests/redis/test_formats.py checks that the two agree.
local BAND = 4398046511104
local HIGHEST_PRIORITY = 9
local DEFAULT_PRIORITY = 5
-- `priority` may be nil (a record without one) and then counts as DEFAULT_PRIORITY.
local function ready_score(priority, ms)
  return (HIGHEST_PRIORITY - (tonumber(priority) or DEFAULT_PRIORITY)) * BAND + ms
end
