-- The queued tasks of a queue: one list per priority level, `<counts>:<level>`, beside the hash
-- `<counts>` (a script's KEYS entry: dtq:{q}:queued) of how many queued tasks each list holds.
-- The lists are named from that key, so they share its hash tag and slot. An entry is
-- "<id>@<ms it became ready, base 36>"; the head is next. A list costs ~48 bytes per task where
-- the sorted set it replaces cost ~144 (docs/keys.md, bench memory workload).
--
-- A queued task has no t:state field (the field is what costs; "queued" from dtq 0.1 reads
-- the same). A task that leaves the queued state other than by being popped (cancelled, taken
-- back) keeps its entry: the entry is stale, and whoever pops it skips it, because its task is
-- no longer queued, or gone. The counts always say how many *queued* tasks each level has, so
-- a level whose count drops to 0 holds only stale entries and is deleted whole.
-- Needs includes bulk and priority.
local B36 = '0123456789abcdefghijklmnopqrstuvwxyz'
-- Most stale entries one claim passes per level; it answers with what it found, and the count
-- it reports tells its worker to claim again.
local STALE_PASS = 1000

local function queued_list(counts, level)
  return counts .. ':' .. level
end

local function base36(n)
  local digits = {}
  repeat
    local d = n % 36
    table.insert(digits, 1, string.sub(B36, d + 1, d + 1))
    n = (n - d) / 36
  until n == 0
  return table.concat(digits)
end

-- id and ready ms of an entry
local function parse_queued(entry)
  local id, at = string.match(entry, '^(.+)@(%w+)$')
  if not id then return entry, 0 end
  return id, tonumber(at, 36) or 0
end

-- Whether a task whose state field and record read `state`, `spec` is queued.
local function is_queued(state, spec)
  return spec and (not state or state == 'queued') or false
end

-- Entries to push, per level: add() them, then push() once.
local function new_pushes()
  return {}
end
local function add_push(pushes, level, id, ms)
  level = tonumber(level) or DEFAULT_PRIORITY
  local entries = pushes[level]
  if not entries then entries = {}; pushes[level] = entries end
  entries[#entries + 1] = id .. '@' .. base36(ms)
end
-- Push the collected entries at the tail of their lists (`at_head`: at the head, in the order
-- they were added) and count them. Returns how many were pushed.
local function push(counts, pushes, at_head)
  local total = 0
  for level, entries in pairs(pushes) do
    if at_head then
      local reversed = {}
      for i = #entries, 1, -1 do reversed[#reversed + 1] = entries[i] end
      bulk('LPUSH', queued_list(counts, level), reversed)
    else
      bulk('RPUSH', queued_list(counts, level), entries)
    end
    redis.call('HINCRBY', counts, level, #entries)
    total = total + #entries
  end
  return total
end

-- Tasks at `levels` (one level per task) left the queued state without being popped: uncount
-- them. A level left with none is deleted, stale entries and all.
local function uncount(counts, levels)
  local per = {}
  for _, level in ipairs(levels) do per[level] = (per[level] or 0) + 1 end
  for level, n in pairs(per) do
    if tonumber(redis.call('HINCRBY', counts, level, -n)) <= 0 then
      redis.call('HDEL', counts, level)
      redis.call('DEL', queued_list(counts, level))
    end
  end
end

-- level -> queued count, from the counts hash.
local function queued_counts(counts)
  local flat, out = redis.call('HGETALL', counts), {}
  for i = 1, #flat, 2 do out[tonumber(flat[i])] = tonumber(flat[i + 1]) end
  return out
end

local function queued_total(counts)
  local total = 0
  for _, n in pairs(queued_counts(counts)) do total = total + math.max(n, 0) end
  return total
end

-- Pop up to `need` queued tasks from `level`'s list, passing stale entries (at most STALE_PASS)
-- and any id already in `seen` (a task with two entries: taken once). Appends to `taken` one
-- {id, record, ready ms} per task. Needs the state and record columns.
local function pop_queued(counts, level, need, states, spec_col, seen, taken)
  local list = queued_list(counts, level)
  local live, budget = 0, need + STALE_PASS
  while live < need and budget > 0 do
    local popped = redis.call('LPOP', list, math.min(need - live, budget))
    if not popped then break end
    budget = budget - #popped
    local ids, ats = {}, {}
    for i, entry in ipairs(popped) do ids[i], ats[i] = parse_queued(entry) end
    local current, specs = hmget(states, ids), hmget(spec_col, ids)
    for i, id in ipairs(ids) do
      if not seen[id] and is_queued(current[i], specs[i]) then
        seen[id] = true
        live = live + 1
        taken[#taken + 1] = {id, specs[i], ats[i]}
      end
    end
  end
  if live > 0 then
    local left = tonumber(redis.call('HINCRBY', counts, level, -live))
    if left <= 0 then redis.call('HDEL', counts, level); redis.call('DEL', list) end
  elseif redis.call('EXISTS', list) == 0 then
    redis.call('HDEL', counts, level)  -- nothing left to count
  end
  return live
end
