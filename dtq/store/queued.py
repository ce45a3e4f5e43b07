"""The queued lists' entries as Python reads them: "<id>@<ms it became ready, base 36>".

The Lua side, which writes them, is `lua/include/queued.lua`; tests/redis/test_formats.py
checks that the two agree. An entry may be stale (its task was cancelled or taken back since it
was pushed): a reader checks the task's record, as the claim does.
"""

from __future__ import annotations

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def entry(task_id: str, ready_ms: int) -> str:
    """The entry of `task_id`, ready since `ready_ms`."""
    digits = ""
    while True:
        ready_ms, digit = divmod(ready_ms, 36)
        digits = DIGITS[digit] + digits
        if ready_ms == 0:
            return f"{task_id}@{digits}"


def parse(raw: str) -> tuple[str, int]:
    """The task id and ready ms of an entry (0 when it carries no time)."""
    task_id, at, ready = raw.rpartition("@")
    if not at:
        return raw, 0
    try:
        return task_id, int(ready, 36)
    except ValueError:
        return task_id, 0
