"""How the CLI shows things: Rich tables for people, JSON for scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from rich import box
from rich.console import Console
from rich.table import Table

from dtq.store.calls import QueueCounts
from dtq.store.deadletters import DeadPage
from dtq.store.registry import WorkerInfo
from dtq.task import Task, public_shape, rfc3339

console = Console()


def as_json(value: Any) -> None:
    """Print `value` as indented JSON."""
    console.print_json(orjson.dumps(value, default=str).decode())


def show_task(task: Task) -> None:
    """One task as a two-column table."""
    table = Table(show_header=False, box=None)
    for name, value in public_shape(task).items():
        shown = f"{value['type']}: {value['message']}" if name == "error" and value else value
        table.add_row(f"[bold]{name}[/]", "" if shown is None else str(shown))
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
        table.add_row(name, *map(str, counted), f"{c.oldest_ready_age:.1f}s", "yes" if c.paused else "")
    out.print(table)


def show_workers(workers: Sequence[WorkerInfo]) -> None:
    """Live workers as a table."""
    table = Table("id", "queues", "concurrency", "in flight", "processed", "failed", "state", "heartbeat")
    for w in workers:
        table.add_row(w.id, ",".join(w.queues), str(w.concurrency), str(w.in_flight), str(w.processed),
                      str(w.failed), w.state, f"{w.heartbeat_age:.1f}s ago")  # fmt: skip
    console.print(table)


def show_dead(page: DeadPage) -> None:
    """A page of dead tasks as a table."""
    table = Table("id", "task", "attempts", "died", "error")
    for t in page.tasks:
        error = f"{t.error.type}: {t.error.message}" if t.error else ""
        table.add_row(t.id, t.task, str(t.attempts), rfc3339(t.finished_at) or "", error[:80])
    console.print(table)
    if page.next_cursor:
        console.print(f"more: --cursor {page.next_cursor}")
