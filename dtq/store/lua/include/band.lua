-- Ready-set score: priority band (9 = most urgent = lowest band) plus the ms the task became
-- ready, so ZPOPMIN yields strict priority, FIFO within a level. 2^42 ms is ~139 years, and
-- 10 bands stay below 2^53, where doubles are still exact integers.
local BAND = 4398046511104
local function ready_score(priority, ms)
  return (9 - tonumber(priority)) * BAND + ms
end
