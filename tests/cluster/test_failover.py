"""A cluster primary killed while a worker, a scheduler and a listener run in-process: its replica
takes over, and the same objects carry on without a restart (the longer run under load, with
every task accounted for, is chaos scenario 11)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import RedisCluster

import dtq
from dtq.client import Client
from dtq.keys import queue_keys
from dtq.settings import Settings
from dtq.store.wakeup import Listener
from tests.cluster.test_cluster import spread_queues
from tests.conftest import make_settings
from tests.redis.scripts.conftest import eventually
from tests.support.redis_cluster import Cluster


@pytest.fixture
def doomed_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A cluster of the test's own: one of its primaries will not survive."""
    cluster = Cluster(tmp_path / "cluster").start()
    yield cluster
    cluster.stop()


async def test_a_killed_primary_is_replaced_and_everything_carries_on(doomed_cluster: Cluster, tmp_path: Path) -> None:
    settings: Settings = make_settings(doomed_cluster.url, "fo", tmp_path)
    queues = spread_queues(doomed_cluster, "fo", 3)
    victim = doomed_cluster.node_of(queue_keys("fo", queues[0]).queued)
    async with Client(settings) as client:
        scheduler = dtq.Scheduler(settings)
        worker = dtq.Worker(dtq.App(builtins=True), settings, queues=queues, concurrency=8)
        running = [asyncio.create_task(scheduler.run()), asyncio.create_task(worker.run())]
        heard: list[tuple[str, str]] = []
        listener = Listener(client.store.redis, lambda channel, data: heard.append((channel, data)),
                            channels=[client.store.keys(q).worker_channel for q in queues])  # fmt: skip
        assert isinstance(client.store.redis, RedisCluster)
        pinned = listener._attempt = next(
            i for i, n in enumerate(client.store.redis.get_nodes()) if n.port == victim.port
        )
        listening = asyncio.create_task(listener.run())
        await asyncio.wait_for(listener.subscribed.wait(), 5)

        before = [o.id for o in await client.enqueue_many([client.request("echo", n, queue=q)
                                                           for n in range(20) for q in queues])]  # fmt: skip
        await eventually(lambda: succeeded(client, queues, len(before)), timeout=20)

        victim.kill()
        await asyncio.to_thread(doomed_cluster.wait_promoted, victim)
        # The listener was on the dead node: it moves to another one by itself.
        await eventually(lambda: listener._attempt != pinned and listener.subscribed.is_set(), timeout=20)
        heard.clear()
        after = await client.enqueue_many(
            [client.request("echo", n, queue=q, delay=0.3 if n % 2 else None) for n in range(20) for q in queues]
        )
        # Same worker, scheduler and client: the queue that lived on the dead primary is served by
        # its promoted replica, which had the data but not the scripts (SCRIPT LOAD is not replicated).
        await eventually(lambda: succeeded(client, queues, len(before) + len(after)), timeout=30)
        await eventually(lambda: (client.store.keys(queues[0]).worker_channel, "ready") in heard, timeout=5)
        assert scheduler.promoted == len(after) // 2
        records = await client.get_many(queues[0], before[::3])
        assert all(r is not None and r.state is dtq.TaskState.SUCCEEDED for r in records)
        listener.stop()
        worker.request_stop()
        scheduler.request_stop()
        await asyncio.gather(listening, *running)


async def succeeded(client: Client, queues: list[str], count: int) -> bool:
    stats = await client.all_queue_stats(queues)
    return sum(s.succeeded for s in stats.values()) == count
