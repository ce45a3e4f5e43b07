-- Which entries the caller still holds: the task is active and its run record ("attempt|
-- started ms|lease token") ends with the caller's token. A task that left the active state, or
-- was claimed again since, is not held: its caller is stale. (Active state and membership of
-- the active set always go together; the state hash is the cheaper one to read.)
-- Returns the verdicts in entry order (1 = held, 0 = lease lost), and `kept`: the positions of
-- the held entries.
local function check_held(states, runs, list)
  local current, records = hmget(states, list.ids), hmget(runs, list.ids)
  local verdicts, kept = {}, {}
  for n = 1, #list.ids do
    local run, token = records[n], list.tokens[n]
    if current[n] == 'active' and claimed_with(run, token) then
      verdicts[n] = 1
      kept[#kept + 1] = n
    else
      verdicts[n] = 0
    end
  end
  return verdicts, kept
end

-- The ids at `positions`.
local function ids_at(list, positions)
  local ids = {}
  for i, n in ipairs(positions) do ids[i] = list.ids[n] end
  return ids
end

-- The task names at `positions`.
local function names_at(list, positions)
  local names = {}
  for i, n in ipairs(positions) do names[i] = list.names[n] end
  return names
end

-- Among the refused entries (verdict 0), the positions of those whose task is in one of the
-- `wanted` states (a set: state -> true) and was not claimed since the caller's claim: its run record still ends with
-- the caller's token. Their lease lapsed, but no newer attempt started.
local function find_lapsed(states, runs, list, verdicts, wanted)
  local refused = {}
  for n = 1, #list.ids do
    if verdicts[n] == 0 then refused[#refused + 1] = n end
  end
  local ids = ids_at(list, refused)
  local current, records = hmget(states, ids), hmget(runs, ids)
  local lapsed = {}
  for i, n in ipairs(refused) do
    local token = list.tokens[n]
    -- (no state field: queued, include queued; a task that is gone has no run record either)
    if wanted[current[i] or 'queued'] and claimed_with(records[i], token) then
      lapsed[#lapsed + 1] = n
    end
  end
  return lapsed
end
