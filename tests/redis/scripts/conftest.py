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
from dtq.settings import RetentionSettings, TaskDefaults
from dtq.store import calls
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
        raw = await self.client.store.redis.hget(self.keys.column("state"), task_id)
        return raw.decode() if raw else None

    async def members(self, key: str) -> list[str]:
        return [m.decode() for m in await self.client.store.redis.zrange(key, 0, -1)]


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
