-- Priority levels, 0-9, 9 the most urgent; DEFAULT_PRIORITY for a record that names none.
-- dtq/priority.py holds the same constants; tests/redis/test_formats.py checks that they agree.
local HIGHEST_PRIORITY = 9
local DEFAULT_PRIORITY = 5
