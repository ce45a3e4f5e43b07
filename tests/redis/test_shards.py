"""A sharded hot queue against a real Redis: spread by producers, drained by one worker, counted
and managed under its logical name; and the replica acknowledgement a lone server cannot give."""

from __future__ import annotations

import httpx
import pytest

import dtq
from dtq.client import Client
from dtq.errors import NotReplicated
from dtq.settings import Settings
from dtq.store.calls import Stored
from dtq.task import TaskState
from services.api.app import create_app
from tests.conftest import tuned


@pytest.fixture
def sharded(settings: Settings) -> Settings:
    return tuned(settings, redis={"shards": "hot=4"})


async def test_producers_spread_and_one_worker_drains_every_shard(sharded: Settings) -> None:
    async with Client(sharded) as client:
        ids = [o.id for o in await client.enqueue_many([client.request("echo", n, queue="hot") for n in range(200)])]
        assert await client.queues() == ["hot~0", "hot~1", "hot~2", "hot~3"]
        shards = await client.all_queue_stats()
        assert [s.ready for s in shards.values()] == [50, 50, 50, 50]
        total = await client.queue_stats("hot")
        assert (total.ready, total.oldest_ready_ms) == (200, min(s.oldest_ready_ms or 0 for s in shards.values()))
        record = await client.get(ids[5], queue="hot")  # the logical name finds it in its shard
        assert record.queue.startswith("hot~") and record.payload == 5
        worker = dtq.Worker(dtq.App(builtins=True), sharded, queues=["hot"], concurrency=20, burst=True)
        assert worker.queues == ["hot~0", "hot~1", "hot~2", "hot~3"]
        await worker.run()
        assert (await client.queue_stats("hot")).succeeded == 200


async def test_priority_and_fifo_hold_within_each_shard(sharded: Settings) -> None:
    async with Client(sharded) as client:
        low = [o.id for o in await client.enqueue_many([client.request("t", n, queue="hot", priority=1)
                                                        for n in range(8)])]  # fmt: skip
        high = [o.id for o in await client.enqueue_many([client.request("t", n, queue="hot", priority=9)
                                                         for n in range(8)])]  # fmt: skip
        for shard in range(4):
            page = await client.tasks(f"hot~{shard}", TaskState.QUEUED)
            order = [t.id for t in page.tasks]
            assert order == [i for i in high if i in order] + [i for i in low if i in order]
            assert len(order) == 4


async def test_an_idempotency_key_is_checked_in_its_one_shard(sharded: Settings) -> None:
    async with Client(sharded) as client:
        first = [await client.enqueue("t", n, queue="hot", key=f"k{n}") for n in range(12)]
        again = [await client.enqueue("t", n, queue="hot", key=f"k{n}") for n in range(12)]
        assert [a.outcome for a in again] == [Stored.DUPLICATE_KEY] * 12
        assert [a.id for a in again] == [f.id for f in first]
        assert (await client.queue_stats("hot")).ready == 12


async def test_pause_cancel_and_stats_work_under_the_logical_name(sharded: Settings) -> None:
    async with Client(sharded) as client:
        tasks = await client.enqueue_many([client.request("t", n, queue="hot") for n in range(4)])
        await client.pause("hot")
        assert (await client.queue_stats("hot")).paused
        await dtq.Worker(dtq.App(builtins=True), sharded, queues=["hot"], burst=True).run()
        assert (await client.queue_stats("hot")).ready == 4
        await client.resume("hot")
        assert not (await client.queue_stats("hot")).paused
        outcome = await client.cancel(tasks[2].id, queue="hot")
        assert outcome.state == "cancelled"
        assert (await client.all_queue_stats(["hot"]))["hot"].cancelled == 1


async def test_an_unsharded_queue_is_untouched(client: Client, sharded: Settings) -> None:
    async with Client(sharded) as spreading:
        await spreading.enqueue("t", queue="cold")
        assert await spreading.queues() == ["cold"]
        assert (await client.queue_stats("cold")).ready == 1


async def test_a_lone_server_cannot_acknowledge_a_replica_wait(settings: Settings) -> None:
    waiting = tuned(settings, redis={"wait_replicas": 1, "wait_timeout": 0.05})
    async with Client(waiting) as client:
        with pytest.raises(NotReplicated, match="only 0 of 1 replica"):
            await client.enqueue("t", "stored anyway")
        assert (await client.queue_stats("default")).ready == 1
        await client.get_many("default", [])  # reads never wait


async def test_the_api_shows_a_sharded_queue_by_either_name(sharded: Settings) -> None:
    app = create_app(sharded)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dtq") as http,
    ):
        accepted = await http.post("/tasks/bulk", json=[{"task": "t", "queue": "hot"} for _ in range(8)])
        assert accepted.status_code == 200, accepted.text
        listed = (await http.get("/queues")).json()["queues"]
        assert sorted(q["name"] for q in listed) == ["hot~0", "hot~1", "hot~2", "hot~3"]
        logical = (await http.get("/queues/hot")).json()
        assert (logical["name"], logical["ready"]) == ("hot", 8)
        shard = await http.get("/queues/hot~1/tasks")
        assert shard.status_code == 200 and len(shard.json()["tasks"]) == 2
        assert (await http.post("/queues/hot/pause")).json()["paused"] is True
