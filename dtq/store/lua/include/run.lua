-- The run record, t:run[id] = "<attempt>|<started ms>|<lease token>": the attempts claimed so
-- far, when the last one started (empty before any) and the token of the claim holding it
-- (empty once handed back). Tokens are "<worker id>#<claim number>" and hold no '|'.
-- dtq/runs.py reads and writes the same format; tests/redis/test_formats.py checks they agree.
local NO_RUN = '0||'

local function run_record(attempt, started, token)
  return attempt .. '|' .. started .. '|' .. token
end

-- attempt (a number), started (a string, '' if none) and token of `record` (nil/false: none yet)
local function run_fields(record)
  local attempt, started, token = string.match(record or NO_RUN, '^(%d+)|(%d*)|(.*)$')
  return tonumber(attempt) or 0, started or '', token or ''
end

-- Whether `record` was written by the claim that holds `token` (it ends with "|<token>").
local function claimed_with(record, token)
  return record and string.sub(record, -(#token + 1)) == '|' .. token or false
end

-- The worker id a lease token names.
local function token_worker(token)
  return string.match(token, '^(.*)#') or token
end
