"""The queue index: a cap on how many queues exist, and empty queues leaving it (issue 13,
item 3), with an enqueue racing the scheduler's retirement never losing a queue."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from dtq.client import Client
from dtq.errors import TooManyQueues
from dtq.keys import GlobalKeys, queue_keys
from dtq.scheduler import Scheduler
from dtq.settings import Settings
from dtq.store import calls
from dtq.task import TaskRequest, TaskState
from tests.conftest import tuned
from tests.redis.scripts.conftest import eventually


async def test_no_more_queues_than_the_cap_and_a_refused_bulk_stores_nothing(settings: Settings) -> None:
    async with Client(tuned(settings, queues={"max": 3})) as client:
        for name in ("a", "b"):
            await client.enqueue("echo", queue=name)
        with pytest.raises(TooManyQueues) as refused:
            await client.enqueue_many([TaskRequest(task="echo", queue=q) for q in ("a", "c", "d")])
        assert refused.value.refused == ["c", "d"]
        assert await client.queues() == ["a", "b"]
        assert (await client.queue_stats("a")).ready == 1  # the bulk stored none of its tasks
        await client.enqueue("echo", queue="c")  # one more still fits
        with pytest.raises(TooManyQueues):
            await client.enqueue("echo", queue="e")
        await client.enqueue("echo", queue="a")  # known queues always take tasks
        assert await client.queues() == ["a", "b", "c"]


async def test_an_empty_queue_leaves_the_index_and_comes_back_when_used(settings: Settings, prefix: str) -> None:
    quick = tuned(settings, queues={"idle_ttl": 1}, retention={"finished": 0})
    raw = aioredis.Redis.from_url(settings.redis.url.get_secret_value())
    async with Client(quick) as client:
        once = await client.enqueue("echo", queue="once")
        await client.cancel(once.id)
        scheduler = Scheduler(quick)
        await scheduler.start()
        try:
            await eventually(lambda: _not_indexed(client, "once"), timeout=15)
            assert not await raw.exists(queue_keys(prefix, "once").totals)  # its bookkeeping went too
            # The same client still trusts its registration; the enqueue finds the mark instead.
            later = await client.enqueue("echo", queue="once", delay=0.2)
            assert "once" in await client.queues()
            await eventually(lambda: _state_is(client, later.id, TaskState.QUEUED), timeout=10)
        finally:
            await scheduler.stop()
            await raw.aclose()


async def test_an_enqueue_between_retire_and_unindexing_keeps_the_queue(client: Client, prefix: str) -> None:
    """The interleaving retire_if_empty must survive: the scheduler marks the queue, a producer
    enqueues, the scheduler takes the queue out of the index, then re-checks."""
    await client.enqueue_many([])  # connect
    keys, index = queue_keys(prefix, "racy"), GlobalKeys(prefix).queues
    await client.store.register_queues(["racy"])
    assert await client.store.run(calls.retire(keys, 60_000))  # 1. marked (it is empty)
    task = await client.enqueue("echo", queue="racy")  # 2. the producer's enqueue lands
    await client.store.redis.srem(index, "racy")  # 3. the scheduler unindexes it
    assert not await client.store.run(calls.still_retired(keys))  # 4. ...and sees it is in use
    await client.store.reinstate(["racy"])
    assert "racy" in await client.queues()
    assert (await client.get(task.id)).state is TaskState.QUEUED


async def test_a_paused_or_busy_queue_is_never_retired(client: Client) -> None:
    await client.pause("held")
    await client.enqueue("echo", queue="busy")
    for name in ("held", "busy"):
        assert not await client.store.retire_if_empty(name)
    assert {"held", "busy"} <= set(await client.queues())


async def _not_indexed(client: Client, queue: str) -> bool:
    return queue not in await client.queues()


async def _state_is(client: Client, task_id: str, state: TaskState) -> bool:
    await asyncio.sleep(0)
    return (await client.get(task_id)).state is state
