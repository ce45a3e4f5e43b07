"""Priorities and how the ready set orders them.

A priority is an integer from LOWEST_PRIORITY to HIGHEST_PRIORITY, the highest most urgent;
DEFAULT_PRIORITY when none is given, and the original API's `"priority": true` is the highest
(false is the default). The ready set's
score puts each level in its own band of BAND milliseconds, most urgent lowest, plus the ms the
task became ready, so ZPOPMIN gives strict priority and FIFO within a level. The Lua side is
`store/lua/include/band.lua`; tests/redis/test_formats.py checks that the two agree.
"""

from __future__ import annotations

LOWEST_PRIORITY, HIGHEST_PRIORITY = 0, 9
PRIORITY_LEVELS = range(LOWEST_PRIORITY, HIGHEST_PRIORITY + 1)
DEFAULT_PRIORITY = 5
# 2^42 ms is ~139 years, and ten bands stay below 2^53, where doubles are still exact integers.
BAND = 2**42


def from_flag(urgent: bool) -> int:
    """The priority the original API meant by `"priority": true` / `false`."""
    return HIGHEST_PRIORITY if urgent else DEFAULT_PRIORITY


def ready_score(priority: int, ready_ms: int) -> int:
    """The ready-set score of a task of `priority` that became ready at `ready_ms`."""
    return (HIGHEST_PRIORITY - priority) * BAND + ready_ms


def band(priority: int) -> tuple[int, int]:
    """The lowest and highest ready-set score of `priority`'s band."""
    low = (HIGHEST_PRIORITY - priority) * BAND
    return low, low + BAND - 1


def ready_ms(score: int) -> int:
    """The ms a task became ready, from its ready-set score."""
    return score % BAND
