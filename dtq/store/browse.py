"""Browsing a queue: its tasks in one state, in run order or newest first, paged and filtered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dtq.keys import QueueKeys
from dtq.priority import band as priority_band
from dtq.store import calls
from dtq.store.connection import redis_errors, text
from dtq.store.inspection import record_from_columns
from dtq.store.scripts import Scripts
from dtq.task import Task, TaskState

CHUNK = 500
SCAN_LIMIT = 20  # a filtered page reads at most this many entries per entry it returns


def state_set(keys: QueueKeys, state: TaskState) -> tuple[str, bool]:
    """The set holding tasks in `state`, and whether to list it newest first."""
    sets = {
        TaskState.QUEUED: (keys.ready, False),  # next to run first
        TaskState.SCHEDULED: (keys.scheduled, False),  # due soonest first
        TaskState.RETRYING: (keys.retrying, False),
        TaskState.ACTIVE: (keys.active, False),
        TaskState.SUCCEEDED: (keys.succeeded, True),  # most recent first
        TaskState.CANCELLED: (keys.cancelled, True),
        TaskState.DEAD: (keys.dead, True),
    }
    return sets[state]


@dataclass(frozen=True, slots=True)
class TaskPage:
    """Tasks of one page and the offset where the next page starts (None at the end)."""

    tasks: list[Task]
    total: int
    next_cursor: int | None


async def page(
    scripts: Scripts,
    keys: QueueKeys,
    state: TaskState,
    *,
    task: str | None = None,
    priority: int | None = None,
    limit: int = 50,
    cursor: int = 0,
) -> TaskPage:
    """Up to `limit` tasks in `state` from position `cursor`, optionally only one name or priority."""
    key, newest_first = state_set(keys, state)
    band = priority_band(priority) if state is TaskState.QUEUED and priority is not None else None
    with redis_errors():
        total = int(await scripts.redis.zcount(key, *band) if band else await scripts.redis.zcard(key))
    found: list[Task] = []
    position = cursor
    budget = limit * (SCAN_LIMIT if task is not None or (priority is not None and band is None) else 1)
    while len(found) < limit and budget > 0 and position < total:
        ids = await _slice(scripts, key, band, newest_first=newest_first, start=position, count=min(CHUNK, budget))
        if not ids:
            break
        records = await scripts.run(calls.inspect(keys, ids))
        for task_id, cols in zip(ids, records, strict=True):
            position += 1
            budget -= 1
            record = record_from_columns(task_id, keys.name, cols)
            if record is not None and _wanted(record, task, priority):
                found.append(record)
                if len(found) == limit:
                    break
    return TaskPage(found, total, position if position < total else None)


def _wanted(record: Task, task: str | None, priority: int | None) -> bool:
    return (task is None or record.task == task) and (priority is None or record.priority == priority)


async def _slice(
    scripts: Scripts, key: str, band: tuple[int, int] | None, *, newest_first: bool, start: int, count: int
) -> list[str]:
    with redis_errors():
        if band is not None:
            raw: list[Any] = await scripts.redis.zrange(key, band[0], band[1], byscore=True, offset=start, num=count)
        else:
            raw = await scripts.redis.zrange(key, start, start + count - 1, desc=newest_first)
    return [text(r) for r in raw]
