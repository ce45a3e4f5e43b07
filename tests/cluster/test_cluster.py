"""What only a cluster can show: queues on different primaries worked together, the eviction check
on every primary, scripts a primary forgot, notifications from any node, and replica
acknowledgement (WAIT) per node."""

from __future__ import annotations

import asyncio

import pytest
import redis
from dtq_operator.autoscaler import read_load
from dtq_operator.model import Load
from redis.asyncio import RedisCluster

import dtq
from dtq.client import Client
from dtq.errors import NotReplicated, RedisUnavailable, UnsafeRedisConfig
from dtq.keys import queue_keys
from dtq.settings import Settings
from dtq.store.calls import Stored
from dtq.store.connection import subscriber
from dtq.store.wakeup import Listener
from dtq.task import TaskState
from tests.conftest import tuned
from tests.redis.scripts.conftest import eventually
from tests.support.redis_cluster import Cluster


def spread_queues(cluster: Cluster, prefix: str, count: int) -> list[str]:
    """`count` queue names whose slots are served by as many different primaries as there are."""
    chosen: list[str] = []
    nodes: dict[int, int] = {}
    for number in range(1000):
        name = f"q{number}"
        port = cluster.node_of(queue_keys(prefix, name).queued).port
        if nodes.get(port, 0) < (count + cluster.masters - 1) // cluster.masters:
            nodes[port] = nodes.get(port, 0) + 1
            chosen.append(name)
        if len(chosen) == count:
            return chosen
    raise AssertionError("could not spread the queues over the primaries")


async def test_queues_on_different_primaries_are_worked_as_one(
    client: Client, settings: Settings, redis_cluster: Cluster, prefix: str
) -> None:
    queues = spread_queues(redis_cluster, prefix, 6)
    assert len({redis_cluster.node_of(queue_keys(prefix, q).queued).port for q in queues}) == redis_cluster.masters
    requests = [
        client.request("echo", n, queue=q, delay=0.2 if n % 3 == 0 else None) for n in range(30) for q in queues
    ]
    ids = [o.id for o in await client.enqueue_many(requests)]
    assert sorted(await client.queues()) == sorted(queues)
    scheduler = dtq.Scheduler(settings)
    sweeping = asyncio.create_task(scheduler.run())
    worker = dtq.Worker(dtq.App(builtins=True), settings, queues=queues, concurrency=20)
    working = asyncio.create_task(worker.run())

    async def all_done() -> bool:
        stats = await client.all_queue_stats()
        return sum(s.succeeded for s in stats.values()) == len(ids)

    await eventually(all_done, timeout=30)
    assert len(await client.workers()) == 1
    worker.request_stop()
    scheduler.request_stop()
    await asyncio.gather(working, sweeping)
    assert scheduler.promoted == len(ids) // 3
    for task_id, request in zip(ids[::37], requests[::37], strict=True):  # located across nodes
        record = await client.get(task_id)
        assert (record.state, record.queue, record.result) == (TaskState.SUCCEEDED, request.queue, request.payload)
    activity = await client.activity(minutes=2)
    assert sum(m.counts["succeeded"] for m in activity) == len(ids)


async def test_the_eviction_policy_of_every_primary_is_checked(settings: Settings, redis_cluster: Cluster) -> None:
    last = redis_cluster.primaries()[-1]
    admin = redis.Redis(port=last.port)
    admin.config_set("maxmemory-policy", "allkeys-lru")
    try:
        with pytest.raises(UnsafeRedisConfig, match=f"allkeys-lru on the cluster primary 127.0.0.1:{last.port}"):
            async with Client(settings):
                pass
    finally:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.close()
    async with Client(settings) as fine:
        assert (await fine.connect()).eviction_policy == "noeviction"


async def test_a_primary_that_forgot_the_scripts_gets_them_again(
    client: Client, redis_cluster: Cluster, prefix: str
) -> None:
    """What a promoted replica looks like: SCRIPT LOAD is not replicated, so it never had them."""
    queues = spread_queues(redis_cluster, prefix, 3)
    forgetful = redis_cluster.node_of(queue_keys(prefix, queues[0]).queued)
    with redis.Redis(port=forgetful.port) as admin:
        admin.script_flush()
    outcomes = await client.enqueue_many([client.request("echo", n, queue=q) for n in range(5) for q in queues])
    # Only the calls that met NOSCRIPT were sent again: a resent call would answer EXISTED.
    assert {o.outcome for o in outcomes} == {Stored.CREATED}
    with redis.Redis(port=forgetful.port) as admin:
        admin.script_flush()
    claim = dtq.store.calls.claim(client.store.keys(queues[0]), count=5, lease_ms=5000, token="t#1", order="")
    batch = await client.store.run(claim)
    assert len(batch.tasks) == 5


async def test_notifications_reach_a_listener_on_any_node(client: Client, redis_cluster: Cluster, prefix: str) -> None:
    """Classic PUBLISH (what the scripts send) is broadcast over the cluster bus to every node."""
    queues = spread_queues(redis_cluster, prefix, 3)
    assert isinstance(client.store.redis, RedisCluster)
    nodes = client.store.redis.get_nodes()
    expected = {(client.store.keys(q).worker_channel, "ready") for q in queues}
    expected |= {(client.store.keys(q).scheduler_channel, "due") for q in queues}
    for attempt, node in enumerate(nodes):
        pubsub = await subscriber(client.store.redis, attempt)
        assert pubsub.connection_pool.connection_kwargs["port"] == node.port  # type: ignore[union-attr]
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        heard: set[tuple[str, str]] = set()
        everything = asyncio.Event()

        def on_message(
            channel: str, data: str, heard: set[tuple[str, str]] = heard, done: asyncio.Event = everything
        ) -> None:
            heard.add((channel, data))
            if expected <= heard:
                done.set()

        channels = [client.store.keys(q).worker_channel for q in queues]
        listener = Listener(client.store.redis, on_message, channels=channels,
                            patterns=[client.store.global_keys.scheduler_pattern])  # fmt: skip
        listener._attempt = attempt  # pin the node under test
        running = asyncio.create_task(listener.run())
        try:
            await asyncio.wait_for(listener.subscribed.wait(), 5)
            for queue in queues:
                await client.enqueue("echo", queue=queue)
                await client.enqueue("echo", queue=queue, delay=0.5)
            await asyncio.wait_for(everything.wait(), 5)
        finally:
            listener.stop()
            await running
        assert expected <= heard, (node, expected - heard)


async def test_producers_can_wait_for_a_replica_on_each_primary(
    settings: Settings, redis_cluster: Cluster, prefix: str
) -> None:
    queues = spread_queues(redis_cluster, prefix, 3)
    acked = tuned(settings, redis={"wait_replicas": 1, "wait_timeout": 2.0})
    async with Client(acked) as client:
        outcomes = await client.enqueue_many([client.request("echo", n, queue=q) for n in range(10) for q in queues])
        assert {o.outcome for o in outcomes} == {Stored.CREATED}
    greedy = tuned(settings, redis={"wait_replicas": 2, "wait_timeout": 0.1})  # one replica per primary here
    async with Client(greedy) as client:
        with pytest.raises(NotReplicated, match="only 1 of 2 replica"):
            await client.enqueue("echo", "kept", queue=queues[1])
        assert (await client.queue_stats(queues[1])).ready == 11  # stored all the same


async def test_a_sharded_queue_spreads_over_the_primaries(
    settings: Settings, redis_cluster: Cluster, prefix: str
) -> None:
    sharded = tuned(settings, redis={"shards": "hot=6"})
    async with Client(sharded) as client:
        await client.enqueue_many([client.request("echo", n, queue="hot") for n in range(300)])
        homes = {redis_cluster.node_of(queue_keys(prefix, f"hot~{i}").queued).port for i in range(6)}
        assert len(homes) >= 2
        per_shard = await client.all_queue_stats([f"hot~{i}" for i in range(6)])
        assert [s.ready for s in per_shard.values()] == [50] * 6
        assert (await client.queue_stats("hot")).ready == 300
        await dtq.Worker(dtq.App(builtins=True), sharded, queues=["hot"], concurrency=50, burst=True).run()
        assert (await client.queue_stats("hot")).succeeded == 300


async def test_the_operator_reads_its_load_across_the_primaries(
    settings: Settings, redis_cluster: Cluster, prefix: str
) -> None:
    """The autoscaler's one Redis read (Client.all_queue_stats), plain and sharded queues alike."""
    queues = spread_queues(redis_cluster, prefix, 3)
    sharded = tuned(settings, redis={"shards": "hot=4"})
    async with Client(sharded) as client:
        await client.enqueue_many([client.request("echo", n, queue=q) for n in range(5) for q in [*queues, "hot"]])
        await client.pause(queues[2])
        load = await read_load(client.store, [queues[0], queues[1], queues[2], "hot"])
    assert isinstance(load, Load)
    assert (load.ready, load.paused, load.active) == (15, 5, 0)
    assert load.oldest_age >= 0


async def test_a_bulk_is_taken_back_when_one_primary_is_full(
    redis_cluster: Cluster, client: Client, prefix: str
) -> None:
    """Queues on two primaries, one of them full: the part that landed on the other is taken
    back, so the request stores nothing (before, the first queue's tasks stayed)."""
    cluster = client.store.redis
    assert isinstance(cluster, RedisCluster)
    await cluster.initialize()

    def port_of(key: str) -> int:
        node = cluster.get_node_from_key(key)
        assert node is not None
        return int(node.port)

    index_port = port_of(f"{prefix}:{{@}}:queues")
    by_port: dict[int, str] = {}
    for number in range(1000):
        name = f"q{number}"
        by_port.setdefault(port_of(queue_keys(prefix, name).queued), name)
        if len(by_port) == redis_cluster.masters:
            break
    full_port = next(port for port in by_port if port != index_port)
    fine = next(name for port, name in by_port.items() if port != full_port)
    full = by_port[full_port]
    await client.store.register_queues([fine, full])
    requests = [dtq.TaskRequest(task="echo", queue=q, payload=n) for q in (fine, full) for n in range(3)]
    node = redis.Redis(port=full_port)
    try:
        node.config_set("maxmemory", max(1, int(node.info("memory")["used_memory"]) - 1))
        with pytest.raises(RedisUnavailable) as refused:
            await client.enqueue_many(requests)
        assert refused.value.out_of_memory and "taken back" in str(refused.value)
    finally:
        node.config_set("maxmemory", 0)
        node.close()
    for queue in (fine, full):
        assert (await client.queue_stats(queue)).ready == 0, queue
