"""The events the scripts count: in each queue's lifetime totals ("<event>|<task name>") and its
per-minute activity ("<minute>:<event>").

The Lua side lists the same names in `store/lua/include/events.lua`; tests/unit/test_formats.py
checks that the two lists agree and that every event a script counts is one of them.
"""

from __future__ import annotations

# name -> what one count means (the Prometheus HELP text of dtq_tasks_<name>_total)
EVENTS: dict[str, str] = {
    "enqueued": "Tasks stored.",
    "succeeded": "Tasks that succeeded.",
    "failed": "Failed attempts (including ones that will be retried).",
    "retried": "Failed attempts scheduled for another try.",
    "dead": "Tasks moved to the dead-letter queue.",
    "cancelled": "Tasks cancelled before they finished.",
}
EVENT_NAMES: tuple[str, ...] = tuple(EVENTS)

TOTALS_SEPARATOR = "|"  # between event and task name in a totals field
MINUTE_SEPARATOR = ":"  # between the minute (epoch seconds // 60) and event in an activity field


def totals_field(event: str, task: str) -> str:
    """The totals hash field counting `event` for tasks named `task`."""
    return f"{event}{TOTALS_SEPARATOR}{task}"


def parse_totals_field(field: str) -> tuple[str, str]:
    """(event, task name) of a totals hash field."""
    event, _, task = field.partition(TOTALS_SEPARATOR)
    return event, task


def minute_field(minute: int, event: str) -> str:
    """The activity hash field counting `event` in `minute` (epoch seconds // 60)."""
    return f"{minute}{MINUTE_SEPARATOR}{event}"
