-- A task's stored record (t:task, the TaskSpec JSON of dtq/task.py) as a table, or nil when it
-- is missing or not a JSON object; and the name its events are counted under, UNKNOWN_TASK
-- when there is none (dtq.task.UNKNOWN_TASK_NAME; tests/unit/test_formats.py checks they agree).
-- A record leaves out fields at their defaults: RECORD_MAX_RETRIES is dtq.task's.
local UNKNOWN_TASK = '?'
local RECORD_MAX_RETRIES = 3
local function decode_spec(raw)
  local ok, spec = pcall(cjson.decode, raw or '')
  if ok and type(spec) == 'table' then return spec end
  return nil
end
local function name_of(spec)
  return spec and type(spec.task) == 'string' and spec.task or UNKNOWN_TASK
end
local function max_retries_of(spec)
  return spec and tonumber(spec.max_retries or RECORD_MAX_RETRIES) or 0
end

-- The priority of a stored record without decoding it (its payload may be large): a record
-- names its priority first, `{"priority":7,...}`, unless it is the default. Records written
-- by dtq 0.1 open with their id instead, and name the priority before the payload; `,"` never
-- occurs inside a JSON string (a quote in one is escaped), so the first `,"priority":` is theirs.
-- Needs include priority.
local function priority_of(raw)
  if not raw then return DEFAULT_PRIORITY end
  local level = string.match(raw, '^{"priority":(%d)')
  if not level and string.sub(raw, 1, 7) == '{"id":"' then level = string.match(raw, ',"priority":(%d)') end
  return tonumber(level) or DEFAULT_PRIORITY
end
