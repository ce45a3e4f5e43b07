#!lua flags=allow-oom
-- Retire a queue that holds no task in any state: mark it, and drop its bookkeeping (counters,
-- activity, idempotency keys of tasks long gone, histograms), so queues a producer named once
-- and never used again cost nothing. The caller then takes the queue out of the index; the next
-- enqueue to it removes the mark and puts it back (enqueue.lua, still_retired.lua).
--
-- KEYS[1] dtq:{q}:t:task    hash (column `spec`): every stored task has its record here
-- KEYS[2] dtq:{q}:paused    string (a paused queue is kept: someone set it up)
-- KEYS[3] dtq:{q}:retired   string, the mark set here
-- KEYS[4..9] dtq:{q}:totals, activity, idem, idem:exp and the two histograms: deleted
-- ARGV[1] ms the mark lives (longer than any process trusts its own registration of the queue)
-- Returns: 1 = retired (take it out of the index), 0 = it holds tasks or is paused
if redis.call('HLEN', KEYS[1]) > 0 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[3], '1', 'PX', tonumber(ARGV[1]))
redis.call('DEL', KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9])
return 1
