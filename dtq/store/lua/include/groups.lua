-- Outcomes arrive grouped by lease token (one per claim) and task name: from ARGV[first] on,
-- repeated (token, task name, count, then `count` entries of `width` values, the first of
-- which is the task id). Returns parallel lists, one item per entry (no table per entry):
-- ids, tokens, names, and `at`, the ARGV index of the entry's first value.
local function entries(first, width)
  local ids, tokens, names, at = {}, {}, {}, {}
  local i = first
  while i <= #ARGV do
    local token, name, count = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
    i = i + 3
    for _ = 1, count do
      local n = #ids + 1
      ids[n], tokens[n], names[n], at[n] = ARGV[i], token, name, i
      i = i + width
    end
  end
  return {ids = ids, tokens = tokens, names = names, at = at}
end
