"""enqueue.lua: codes 1 (stored), 0 (id existed), 2 (idempotency key seen)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dtq.settings import RetentionSettings, TaskDefaults
from dtq.store import calls
from dtq.store.calls import Stored
from dtq.task import TaskRequest, TaskState, prepare
from tests.redis.scripts.conftest import Queue


async def test_stores_ready_tasks_in_the_ready_set(queue: Queue) -> None:
    outcomes = await queue.enqueue(TaskRequest(task="a", queue="q"), TaskRequest(task="b", queue="q"))
    assert [o.outcome for o in outcomes] == [Stored.CREATED, Stored.CREATED]
    assert [o.state for o in outcomes] == [TaskState.QUEUED, TaskState.QUEUED]
    assert await queue.queued() == [o.id for o in outcomes]


async def test_future_tasks_go_to_the_scheduled_set(queue: Queue) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    outcomes = await queue.enqueue(
        TaskRequest(task="a", queue="q", at=later), TaskRequest(task="b", queue="q", delay=60)
    )
    assert {o.state for o in outcomes} == {TaskState.SCHEDULED}
    assert sorted(await queue.members(queue.keys.scheduled)) == sorted(o.id for o in outcomes)
    assert await queue.queued() == []


async def test_a_time_in_the_past_runs_now(queue: Queue) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    (outcome,) = await queue.enqueue(TaskRequest(task="a", queue="q", at=past))
    assert outcome.state is TaskState.QUEUED


async def test_resending_the_same_ids_stores_nothing_twice(queue: Queue) -> None:
    prepared = prepare([TaskRequest(task="a", queue="q")], TaskDefaults())
    first = await queue.scripts.run(calls.enqueue(queue.keys, prepared, queue.retention))
    again = await queue.scripts.run(calls.enqueue(queue.keys, prepared, queue.retention))
    assert first[0].outcome is Stored.CREATED
    assert again[0].outcome is Stored.EXISTED
    assert again[0].id == first[0].id
    assert len(await queue.queued()) == 1


async def test_an_idempotency_key_returns_the_first_task(queue: Queue) -> None:
    (first,) = await queue.enqueue(TaskRequest(task="a", queue="q", key="order-7"))
    (second,) = await queue.enqueue(TaskRequest(task="a", queue="q", key="order-7", payload={"other": 1}))
    assert second.outcome is Stored.DUPLICATE_KEY
    assert second.id == first.id
    assert second.state is TaskState.QUEUED
    assert len(await queue.queued()) == 1


async def test_a_key_repeated_inside_one_batch_stores_one_task(queue: Queue) -> None:
    outcomes = await queue.enqueue(*(TaskRequest(task="a", queue="q", key="same") for _ in range(3)))
    assert [o.outcome for o in outcomes] == [Stored.CREATED, Stored.DUPLICATE_KEY, Stored.DUPLICATE_KEY]
    assert len({o.id for o in outcomes}) == 1


async def test_an_expired_key_creates_a_new_task(queue: Queue) -> None:
    short = RetentionSettings(idempotency=0.001)
    prepared = prepare([TaskRequest(task="a", queue="q", key="k")], TaskDefaults())
    (first,) = await queue.scripts.run(calls.enqueue(queue.keys, prepared, short))
    again = prepare([TaskRequest(task="a", queue="q", key="k")], TaskDefaults())
    await queue.client.store.redis.zadd(queue.keys.idempotency_expiry, {"k": 0})  # expired long ago
    (second,) = await queue.scripts.run(calls.enqueue(queue.keys, again, short))
    assert second.outcome is Stored.CREATED
    assert second.id != first.id


async def test_large_batches_are_stored_whole(queue: Queue) -> None:
    ids = await queue.add(9000)
    assert len(set(ids)) == 9000
    assert len(await queue.queued()) == 9000
    assert await queue.client.store.redis.hlen(queue.keys.column("spec")) == 9000


async def test_counts_the_enqueued_tasks_per_name(queue: Queue) -> None:
    await queue.add(3, task="x")
    await queue.add(2, task="y")
    totals = await queue.client.store.redis.hgetall(queue.keys.totals)
    assert totals == {b"enqueued|x": b"3", b"enqueued|y": b"2"}
