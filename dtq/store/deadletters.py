"""The dead-letter queue of each queue: list it, redrive tasks from it, purge it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from dtq.keys import QueueKeys
from dtq.store import calls
from dtq.store.connection import redis_errors, text
from dtq.store.inspection import record_from_columns
from dtq.store.scripts import Scripts
from dtq.task import Task

CHUNK = 1000
SCAN_FACTOR = 10  # a filtered page reads at most this many entries per entry it returns


@dataclass(frozen=True, slots=True)
class DeadPage:
    """Dead tasks, newest first, and the cursor of the next page (None at the end)."""

    tasks: list[Task]
    next_cursor: str | None


def _cursor(score: float, task_id: str) -> str:
    return f"{int(score)}:{task_id}"


def _parse_cursor(cursor: str) -> tuple[int, str]:
    score, _, task_id = cursor.partition(":")
    if not score.isdigit() or not task_id:
        raise ValueError("cursor must be the next_cursor of an earlier page")
    return int(score), task_id


async def page(scripts: Scripts, keys: QueueKeys, *, task: str | None, limit: int, cursor: str | None) -> DeadPage:
    """One page of dead tasks, newest first, optionally only those named `task`."""
    top, after_id = _parse_cursor(cursor) if cursor else (None, None)
    found: list[Task] = []
    budget = limit * (SCAN_FACTOR if task else 1)
    while len(found) < limit and budget > 0:
        want = min(CHUNK, budget) + 1
        with redis_errors():
            raw_entries: list[Any] = await scripts.redis.zrange(
                keys.dead, "+inf" if top is None else top, "-inf", desc=True, byscore=True,
                offset=0, num=want + (CHUNK if after_id else 0), withscores=True,
            )  # fmt: skip
        entries = [(text(raw), float(score)) for raw, score in raw_entries]
        if after_id is not None:
            # Entries with the cursor's score sort by id, descending: skip up to the cursor.
            entries = [(i, s) for i, s in entries if s != top or i < after_id]
        if not entries:
            return DeadPage(found, None)
        batch = entries[: want - 1] if len(entries) >= want else entries
        records = await scripts.run(calls.inspect(keys, [i for i, _ in batch]))
        for (task_id, score), cols in zip(batch, records, strict=True):
            record = record_from_columns(task_id, keys.name, cols)
            budget -= 1
            top, after_id = int(score), task_id
            if record is not None and (task is None or record.task == task):
                found.append(record)
                if len(found) == limit:
                    break
        if len(entries) < want:
            return DeadPage(found, None)
    return DeadPage(found, _cursor(top, after_id) if top is not None and after_id else None)


async def _matching(scripts: Scripts, keys: QueueKeys, task: str | None) -> AsyncIterator[list[str]]:
    """Chunks of dead ids (a snapshot), optionally only tasks named `task`."""
    with redis_errors():
        ids = [text(raw) for raw in await scripts.redis.zrange(keys.dead, 0, -1)]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        if task is not None:
            records = await scripts.run(calls.inspect(keys, chunk))
            chunk = [
                i for i, cols in zip(chunk, records, strict=True)
                if (r := record_from_columns(i, keys.name, cols)) is not None and r.task == task
            ]  # fmt: skip
        if chunk:
            yield chunk


async def redrive(scripts: Scripts, keys: QueueKeys, *, ids: Sequence[str] | None, task: str | None) -> int:
    """Requeue dead tasks: the given ids, else all (or all named `task`); returns how many."""
    if ids is not None:
        return sum([await scripts.run(calls.redrive(keys, ids[i : i + CHUNK])) for i in range(0, len(ids), CHUNK)])
    return sum([await scripts.run(calls.redrive(keys, chunk)) async for chunk in _matching(scripts, keys, task)])


async def purge(scripts: Scripts, keys: QueueKeys, *, ids: Sequence[str] | None, task: str | None) -> int:
    """Delete dead tasks: the given ids, else all (or all named `task`); returns how many."""
    if ids is not None:
        return sum([await scripts.run(calls.purge(keys, ids[i : i + CHUNK])) for i in range(0, len(ids), CHUNK)])
    return sum([await scripts.run(calls.purge(keys, chunk)) async for chunk in _matching(scripts, keys, task)])
