#!lua flags=no-writes
-- Read whole task records in one consistent snapshot: every column for every id, and for
-- finished tasks the time they finished (the score in the set of their final state). A queued
-- task has a record and no state (include queued); the caller reads it as queued.
--
-- KEYS[1..7] dtq:{q}:t:<column>, every column of the task table, in keys.py COLUMNS order
--            (KEYS[2] is t:state)
-- KEYS[8]    dtq:{q}:succeeded  zset, score = ms it ended
-- KEYS[9]    dtq:{q}:cancelled  zset, score = ms it ended
-- KEYS[10]   dtq:{q}:dead       zset, score = ms it ended
-- ARGV[1..] task ids
-- Returns: one list per column (in KEYS order), each with one value per id (false = unset), then
--          one list of finish times (false while the task is not finished)
-- @include bulk
local final_sets = {succeeded = KEYS[8], cancelled = KEYS[9], dead = KEYS[10]}
local out = {}
for k = 1, 7 do out[k] = hmget(KEYS[k], ARGV) end
local finished = {}
for n = 1, #ARGV do
  local set = final_sets[out[2][n] or '']
  finished[n] = set and redis.call('ZSCORE', set, ARGV[n]) or false
end
out[8] = finished
return out
