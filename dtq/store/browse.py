"""Browsing a queue: its tasks in one state, in run order or newest first, paged and filtered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dtq.keys import QueueKeys
from dtq.priority import HIGHEST_PRIORITY, LOWEST_PRIORITY
from dtq.store import calls, queued
from dtq.store.connection import redis_errors, text
from dtq.store.inspection import record_from_columns
from dtq.store.scripts import Scripts
from dtq.task import Task, TaskState

CHUNK = 500
SCAN_LIMIT = 20  # a filtered page reads at most this many entries per entry it returns


def state_set(keys: QueueKeys, state: TaskState) -> tuple[str, bool]:
    """The sorted set holding tasks in `state` (not queued: those are in lists), and whether to
    list it newest first."""
    sets = {
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
    """Up to `limit` tasks in `state` from position `cursor`, optionally only one name or priority.

    Queued tasks are listed in the order they will run: highest level first, oldest first.
    """
    if state is TaskState.QUEUED:
        return await _queued_page(scripts, keys, task=task, priority=priority, limit=limit, cursor=cursor)
    key, newest_first = state_set(keys, state)
    with redis_errors():
        total = int(await scripts.redis.zcard(key))
    budget = limit * (SCAN_LIMIT if task is not None or priority is not None else 1)

    async def entries(start: int, count: int) -> list[str]:
        with redis_errors():
            raw: list[Any] = await scripts.redis.zrange(key, start, start + count - 1, desc=newest_first)
        return [text(r) for r in raw]

    found, position = await _collect(
        scripts, keys, entries, end=total, cursor=cursor, budget=budget, limit=limit, task=task, priority=priority
    )
    return TaskPage(found, total, position if position < total else None)


async def _queued_page(
    scripts: Scripts, keys: QueueKeys, *, task: str | None, priority: int | None, limit: int, cursor: int
) -> TaskPage:
    # Positions run through the levels' lists end to end, stale entries included, so a cursor
    # stays valid while tasks are taken from the heads; `total` counts queued tasks only.
    levels = [priority] if priority is not None else list(range(HIGHEST_PRIORITY, LOWEST_PRIORITY - 1, -1))
    with redis_errors():
        async with scripts.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.queued)
            for level in levels:
                pipe.llen(keys.queued_list(level))
            counts, *lengths = await pipe.execute()
    counted = {int(k): int(v) for k, v in counts.items()}
    total = sum(max(counted.get(level, 0), 0) for level in levels)
    spans = list(zip(levels, (int(n) for n in lengths), strict=True))
    end = sum(length for _, length in spans)

    async def entries(start: int, count: int) -> list[str]:
        offset = start
        for level, length in spans:
            if offset < length:
                with redis_errors():
                    raw: list[Any] = await scripts.redis.lrange(keys.queued_list(level), offset, offset + count - 1)
                return [queued.parse(text(r))[0] for r in raw]
            offset -= length
        return []

    budget = limit * SCAN_LIMIT  # stale entries are passed like filtered ones
    found, position = await _collect(
        scripts, keys, entries, end=end, cursor=cursor, budget=budget, limit=limit, task=task, only=TaskState.QUEUED
    )
    return TaskPage(found, total, position if position < end else None)


async def _collect(
    scripts: Scripts,
    keys: QueueKeys,
    entries: Callable[[int, int], Awaitable[list[str]]],
    *,
    end: int,
    cursor: int,
    budget: int,
    limit: int,
    task: str | None,
    priority: int | None = None,
    only: TaskState | None = None,
) -> tuple[list[Task], int]:
    """Read entries from `cursor` on and keep the tasks wanted, until `limit` are found, the
    budget of entries read is spent, or `end` is reached; returns them and where reading stopped."""
    found: list[Task] = []
    position = cursor
    while len(found) < limit and budget > 0 and position < end:
        ids = await entries(position, min(CHUNK, budget))
        if not ids:
            break
        records = await scripts.run(calls.inspect(keys, ids))
        for task_id, cols in zip(ids, records, strict=True):
            position += 1
            budget -= 1
            record = record_from_columns(task_id, keys.name, cols)
            if record is not None and _wanted(record, task, priority, only):
                found.append(record)
                if len(found) == limit:
                    break
    return found, position


def _wanted(record: Task, task: str | None, priority: int | None, only: TaskState | None) -> bool:
    return (
        (task is None or record.task == task)
        and (priority is None or record.priority == priority)
        and (only is None or record.state is only)
    )
