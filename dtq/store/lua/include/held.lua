-- ARGV from `first` on holds groups of `size` values, each starting with a task id and the
-- lease token the caller holds. Returns the ids, the ARGV index of every group whose task is
-- still held with that token, and a verdict per group (1 = held, 0 = lease lost).
local function held_groups(tokens, first, size)
  local ids = {}
  for i = first, #ARGV, size do ids[#ids + 1] = ARGV[i] end
  local current = hmget(tokens, ids)
  local kept, verdicts = {}, {}
  for n = 1, #ids do
    local base = first + (n - 1) * size
    if current[n] and current[n] == ARGV[base + 1] then
      kept[#kept + 1] = base
      verdicts[n] = 1
    else
      verdicts[n] = 0
    end
  end
  return ids, kept, verdicts
end
