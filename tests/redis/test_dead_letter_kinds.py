"""Tasks nobody can run are dead letters under their own cap: a flood of made-up names never
pushes a queue's real failures out of its dead-letter queue (issue 13, item 5)."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

import dtq
from dtq.client import Client
from dtq.keys import queue_keys
from dtq.scheduler import Scheduler
from dtq.settings import Settings
from dtq.task import TaskRequest
from dtq.worker import Worker
from tests.conftest import tuned
from tests.redis.scripts.conftest import eventually


async def _dead_names(client: Client) -> list[str]:
    page = await client.dead("default", limit=100)
    return sorted(t.task for t in page.tasks)


async def test_junk_names_never_evict_real_failures(settings: Settings) -> None:
    capped = tuned(settings, retention={"dead_max": 5, "dead_unrunnable_max": 3})
    async with Client(capped) as client:
        await client.enqueue_many(
            [TaskRequest(task="fail", payload={"message": f"real {n}"}, max_retries=0) for n in range(5)]
        )
        await Worker(dtq.App(builtins=True), capped, burst=True).run()
        await client.enqueue_many([TaskRequest(task=f"junk-{n:02d}") for n in range(20)])  # no handler anywhere
        await Worker(dtq.App(builtins=True), capped, burst=True).run()
        scheduler = Scheduler(capped)
        await scheduler.start()
        try:
            await eventually(lambda: _count_is(client, 8), timeout=10)
        finally:
            await scheduler.stop()
        names = await _dead_names(client)
        # Every real failure kept; of the junk, the newest, within its own cap.
        assert names == ["fail"] * 5 + ["junk-17", "junk-18", "junk-19"]


async def test_a_redriven_or_purged_task_leaves_the_unrunnable_set(settings: Settings, prefix: str) -> None:
    raw = aioredis.Redis.from_url(settings.redis.url.get_secret_value())
    unrunnable = queue_keys(prefix, "default").unrunnable
    try:
        async with Client(settings) as client:
            first, second = await client.enqueue_many([TaskRequest(task="nobody"), TaskRequest(task="nobody")])
            await Worker(dtq.App(), settings, burst=True).run()
            assert await raw.zcard(unrunnable) == 2
            assert await client.redrive("default", ids=[first.id]) == 1
            assert await client.purge_dead("default", ids=[second.id]) == 1
            assert await raw.zcard(unrunnable) == 0  # a trim of that set can never delete a live task
    finally:
        await raw.aclose()


async def _count_is(client: Client, expected: int) -> bool:
    await asyncio.sleep(0)
    return len((await client.dead("default", limit=100)).tasks) == expected
