-- A task's stored record (t:task, the TaskSpec JSON of dtq/task.py) as a table, or nil when it
-- is missing or not a JSON object; and the name its events are counted under, UNKNOWN_TASK
-- when there is none (dtq.task.UNKNOWN_TASK_NAME; tests/unit/test_formats.py checks they agree).
local UNKNOWN_TASK = '?'
local function decode_spec(raw)
  local ok, spec = pcall(cjson.decode, raw or '')
  if ok and type(spec) == 'table' then return spec end
  return nil
end
local function name_of(spec)
  return spec and type(spec.task) == 'string' and spec.task or UNKNOWN_TASK
end
