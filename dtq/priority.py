"""Priorities: an integer from LOWEST_PRIORITY to HIGHEST_PRIORITY, the highest most urgent.

DEFAULT_PRIORITY when none is given, and the original API's `"priority": true` is the highest
(false is the default). Each level has its own list of queued tasks, taken highest first
(docs/keys.md). The Lua side is `store/lua/include/priority.lua`; tests/redis/test_formats.py
checks that the two agree.
"""

from __future__ import annotations

LOWEST_PRIORITY, HIGHEST_PRIORITY = 0, 9
PRIORITY_LEVELS = range(LOWEST_PRIORITY, HIGHEST_PRIORITY + 1)
DEFAULT_PRIORITY = 5


def from_flag(urgent: bool) -> int:
    """The priority the original API meant by `"priority": true` / `false`."""
    return HIGHEST_PRIORITY if urgent else DEFAULT_PRIORITY
