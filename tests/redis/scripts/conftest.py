"""Helpers for the script contract tests: a queue's keys and scripts, and short-hands."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from dtq.client import Client
from dtq.keys import QueueKeys
from dtq.priority import PRIORITY_LEVELS
from dtq.settings import RetentionSettings, TaskDefaults
from dtq.store import calls, queued
from dtq.store.calls import ClaimBatch, Enqueued
from dtq.store.scripts import Scripts
from dtq.task import TaskRequest, prepare

TOKENS = itertools.count(1)


@dataclass
class Queue:
    """One test queue: its keys, the scripts, and shortcuts for common steps."""

    client: Client
    keys: QueueKeys
    retention: RetentionSettings

    @property
    def scripts(self) -> Scripts:
        return self.client.store.scripts

    async def enqueue(self, *requests: TaskRequest) -> list[Enqueued]:
        prepared = prepare(list(requests), TaskDefaults())
        return await self.scripts.run(calls.enqueue(self.keys, prepared, self.retention))

    async def add(self, count: int = 1, **fields: Any) -> list[str]:
        fields.setdefault("task", "t")
        outcomes = await self.enqueue(*(TaskRequest(queue=self.keys.name, **fields) for _ in range(count)))
        return [o.id for o in outcomes]

    async def claim(
        self, count: int = 100, *, token: str = "", lease_ms: int = 30_000, order: str = "", forget: str = ""
    ) -> ClaimBatch:
        """A claim with `token`, or with a new one each time (a token repeated is a resend)."""
        token = token or f"w#{next(TOKENS)}"
        call = calls.claim(self.keys, count=count, lease_ms=lease_ms, token=token, order=order, forget=forget)
        return await self.scripts.run(call)

    async def lapse(self, *ids: str) -> None:
        """The leases of `ids` run out and the scheduler's recovery handles them."""
        await self.client.store.redis.zadd(self.keys.active, dict.fromkeys(ids, 0), xx=True)
        await self.scripts.run(calls.requeue_expired(self.keys, 100))

    async def run_record(self, task_id: str) -> str | None:
        raw = await self.client.store.redis.hget(self.keys.column("run"), task_id)
        return raw.decode() if raw else None

    async def attempts(self, task_id: str) -> int:
        record = await self.run_record(task_id)
        return int(record.split("|")[0]) if record else 0

    async def state(self, task_id: str) -> str | None:
        """The task's state as readers see it: a stored task with no state field is queued."""
        redis = self.client.store.redis
        raw = await redis.hget(self.keys.column("state"), task_id)
        if raw is None:
            return "queued" if await redis.hexists(self.keys.column("spec"), task_id) else None
        return raw.decode()

    async def members(self, key: str) -> list[str]:
        return [m.decode() for m in await self.client.store.redis.zrange(key, 0, -1)]

    async def queued(self) -> list[str]:
        """The queued tasks' ids in the order a claim takes them (stale entries passed over)."""
        return await queued_ids(self.client, self.keys)


async def queued_ids(client: Client, keys: QueueKeys) -> list[str]:
    """The ids of `keys`' queued tasks, highest level first, oldest first, as a claim takes them."""
    redis = client.store.redis
    found: list[str] = []
    for level in reversed(PRIORITY_LEVELS):
        ids = [queued.parse(raw.decode())[0] for raw in await redis.lrange(keys.queued_list(level), 0, -1)]
        if not ids:
            continue
        states = await redis.hmget(keys.column("state"), ids)
        specs = await redis.hmget(keys.column("spec"), ids)
        for task_id, state, spec in zip(ids, states, specs, strict=True):
            if spec is not None and state in (None, b"queued") and task_id not in found:
                found.append(task_id)
    return found


@pytest.fixture
def queue(client: Client) -> Queue:
    """An empty queue named `q` under the test's prefix."""
    return Queue(client, client.store.keys("q"), RetentionSettings())


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 5.0) -> None:
    """Poll `check` (sync or async) until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = check()
        if await outcome if inspect.isawaitable(outcome) else outcome:
            return
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)
