"""How the CLI shows things: Rich tables for people, JSON for scripts.

Every stored value (names, payloads, errors, worker records) goes through `plain`: as Rich
markup, `[/y]` in a task name crashes the whole table and `[link=...]` plants a hidden link,
and raw control characters would reach the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from rich import box
from rich.console import Console
from rich.highlighter import JSONHighlighter
from rich.table import Table
from rich.text import Text

from dtq.store.calls import QueueCounts
from dtq.store.deadletters import DeadPage
from dtq.store.registry import WorkerInfo
from dtq.task import Task, public_shape, rfc3339
from dtq.text import visible, visible_in_json

console = Console()


def plain(value: object) -> Text:
    """A stored value as Rich text: never read as markup, unsafe characters escaped."""
    return Text(visible(value if isinstance(value, str) else str(value)))


def as_json(value: Any) -> None:
    """Print `value` as indented JSON (console.print_json would decode and re-encode it raw)."""
    document = visible_in_json(orjson.dumps(value, default=str, option=orjson.OPT_INDENT_2).decode())
    console.print(JSONHighlighter()(Text(document)), soft_wrap=True)


def error_line(task: Task) -> str:
    """`type: message` of the task's error, "" if it has none."""
    return f"{task.error.type}: {task.error.message}" if task.error else ""


def show_task(task: Task) -> None:
    """One task as a two-column table."""
    table = Table(show_header=False, box=None)
    for name, value in public_shape(task).items():
        shown = error_line(task) if name == "error" else value  # the record's error, not its JSON shape
        table.add_row(Text(name, style="bold"), plain("" if shown is None else shown))
    console.print(table)


def queue_row(name: str, c: QueueCounts) -> dict[str, Any]:
    """A queue's counts as JSON-friendly fields."""
    return {
        "queue": name, "ready": c.ready, "ready_by_priority": list(c.ready_by_priority),
        "scheduled": c.scheduled, "active": c.active, "retrying": c.retrying, "dead": c.dead,
        "succeeded": c.succeeded, "cancelled": c.cancelled, "oldest_ready_age": c.oldest_ready_age,
        "paused": c.paused,
    }  # fmt: skip


def ready_by_priority(counts: Sequence[int]) -> str:
    """Ready counts of the levels that have any, most urgent first: `9:1 5:2` ("-" for none).

    Ten columns of mostly zeros wrapped every row of the table in an 80-column terminal."""
    levels = [f"{level}:{n}" for level, n in reversed(list(enumerate(counts))) if n]
    return " ".join(levels) or "-"


def show_queues(stats: dict[str, QueueCounts], out: Console = console) -> None:
    """Every queue as one table row."""
    table = Table("queue", "ready", "by priority", "scheduled", "active", "retrying", "dead", "oldest", "paused",
                  box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)  # fmt: skip
    for name, c in stats.items():
        counted = (c.ready, ready_by_priority(c.ready_by_priority), c.scheduled, c.active, c.retrying, c.dead)
        table.add_row(plain(name), *map(str, counted), f"{c.oldest_ready_age:.1f}s", "yes" if c.paused else "")
    out.print(table)


def show_workers(workers: Sequence[WorkerInfo]) -> None:
    """Live workers as a table."""
    table = Table("id", "queues", "concurrency", "in flight", "processed", "failed", "state", "heartbeat")
    for w in workers:
        table.add_row(plain(w.id), plain(",".join(w.queues)), str(w.concurrency), str(w.in_flight),
                      str(w.processed), str(w.failed), plain(w.state), f"{w.heartbeat_age:.1f}s ago")  # fmt: skip
    console.print(table)


def show_dead(page: DeadPage) -> None:
    """A page of dead tasks as a table."""
    table = Table("id", "task", "attempts", "died", "error")
    for t in page.tasks:
        # escaped before it is cut, so the cut never leaves half of an escape's character raw
        error = Text(visible(error_line(t))[:80])
        table.add_row(plain(t.id), plain(t.task), str(t.attempts), rfc3339(t.finished_at) or "", error)
    console.print(table)
    if page.next_cursor:
        console.print(Text("more: --cursor ") + plain(page.next_cursor))
