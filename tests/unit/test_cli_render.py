"""The CLI's queue table, rendered by Rich as an 80-column terminal would show it."""

from __future__ import annotations

import io

from rich.console import Console

from dtq.store.calls import QueueCounts
from services.cli.render import ready_by_priority, show_queues


def counts(by_priority: tuple[int, ...], **fields: int) -> QueueCounts:
    base = dict(scheduled=0, retrying=0, active=0, succeeded=0, cancelled=0, dead=0)
    return QueueCounts(now_ms=10_000, ready_by_priority=by_priority, paused=False, oldest_ready_ms=None,
                       **{**base, **fields})  # fmt: skip


def test_ready_by_priority_lists_only_levels_with_tasks_most_urgent_first() -> None:
    assert ready_by_priority((0, 0, 0, 0, 0, 2, 0, 0, 0, 1)) == "9:1 5:2"
    assert ready_by_priority((0,) * 10) == "-"
    assert ready_by_priority((4,) + (0,) * 9) == "0:4"


def test_each_queue_is_one_line_in_an_80_column_terminal() -> None:
    screen = io.StringIO()
    stats = {
        "default": counts((0, 0, 0, 0, 0, 1200, 0, 0, 0, 3), scheduled=7, dead=2),
        "emails": counts((0,) * 10, active=12),
    }
    show_queues(stats, Console(file=screen, width=80, color_system=None))
    lines = screen.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [line for line in lines if "default" in line or "emails" in line]
    assert len(rows) == 2, screen.getvalue()
    assert "9:3 5:1200" in rows[0] and "1203" in rows[0]
    assert "-" in rows[1] and "12" in rows[1]
