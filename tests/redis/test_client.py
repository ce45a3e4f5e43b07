"""The client API against a real Redis: enqueue, look up, cancel, queues, dead letters, retention."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

import dtq
from dtq.client import Client
from dtq.errors import InvalidTask, TaskFinished, TaskNotFound
from dtq.settings import Settings
from dtq.store.calls import Stored
from dtq.task import TaskRequest, TaskState
from tests.conftest import tuned
from tests.redis.scripts.conftest import eventually


async def run_burst(settings: Settings, app: dtq.App | None = None) -> None:
    async with asyncio.timeout(30):
        await dtq.Worker(app or dtq.App(builtins=True), settings, burst=True).run()


async def test_a_bad_item_rejects_the_whole_batch_and_names_it(client: Client) -> None:
    requests = [TaskRequest(task="ok"), TaskRequest(task="ok", priority=12), TaskRequest(task="", queue="no spaces")]
    with pytest.raises(InvalidTask) as caught:
        await client.enqueue_many(requests)
    named = {(p.index, p.field) for p in caught.value.problems}
    assert named == {(1, "priority"), (2, "task"), (2, "queue")}
    assert await client.queues() == []


async def test_a_batch_may_span_queues_and_keeps_input_order(client: Client) -> None:
    requests = [
        TaskRequest(task="a", queue="one"),
        TaskRequest(task="b", queue="two"),
        TaskRequest(task="c", queue="one"),
    ]
    outcomes = await client.enqueue_many(requests)
    assert [(await client.get(o.id)).task for o in outcomes] == ["a", "b", "c"]
    assert await client.queues() == ["one", "two"]
    assert (await client.queue_stats("one")).ready == 2


async def test_idempotency_key_returns_the_first_task_and_its_state(client: Client, settings: Settings) -> None:
    first = await client.enqueue("echo", 1, key="invoice-9")
    second = await client.enqueue("echo", 2, key="invoice-9")
    assert (second.outcome, second.id, second.state) == (Stored.DUPLICATE_KEY, first.id, TaskState.QUEUED)
    await run_burst(settings)
    third = await client.enqueue("echo", 3, key="invoice-9")
    assert (third.id, third.state) == (first.id, TaskState.SUCCEEDED)
    assert (await client.get(first.id)).result == 1


async def test_get_finds_a_task_in_any_queue_and_reports_unknown_ids(client: Client) -> None:
    task = await client.enqueue("echo", queue="elsewhere", priority=8, max_retries=1, timeout=9, key="k")
    record = await client.get(task.id)
    assert (record.queue, record.priority, record.max_retries, record.timeout, record.key) == (
        "elsewhere",
        8,
        1,
        9,
        "k",
    )
    assert record.enqueued_at is not None and record.enqueued_at.tzinfo is UTC
    with pytest.raises(TaskNotFound):
        await client.get("01890000-0000-7000-8000-000000000000")


async def test_cancel_each_waiting_state_and_refuse_final_ones(client: Client, settings: Settings) -> None:
    queued = await client.enqueue("echo")
    scheduled = await client.enqueue("echo", delay=3600)
    for task in (queued, scheduled):
        assert (await client.cancel(task.id)).state == "cancelled"
        record = await client.get(task.id)
        assert record.state is TaskState.CANCELLED and record.finished_at is not None
    assert (await client.cancel(queued.id)).state == "cancelled"  # repeating is harmless
    done = await client.enqueue("echo")
    await run_burst(settings)
    with pytest.raises(TaskFinished):
        await client.cancel(done.id)
    with pytest.raises(TaskNotFound):
        await client.cancel("nope")


async def test_cancel_a_retrying_task(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)

    @app.task(max_retries=3)
    def flaky(_payload: None) -> None:
        raise ValueError("no")

    long_backoff = tuned(settings, tasks={"backoff_base": 60, "backoff_max": 60})
    task = await client.enqueue("flaky")
    await run_burst(long_backoff, app)
    assert (await client.get(task.id)).state is TaskState.RETRYING
    assert (await client.cancel(task.id)).state == "cancelled"
    assert (await client.queue_stats("default")).retrying == 0


async def test_scheduled_tasks_run_on_time(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)
    ran_at: dict[str, float] = {}

    @app.task
    async def stamp(payload: str) -> None:
        ran_at[payload] = time.time()

    due = datetime.now(UTC) + timedelta(seconds=0.6)
    await client.enqueue("stamp", "at", at=due)
    delayed_from = time.time()
    await client.enqueue("stamp", "delay", delay=0.4)
    scheduler = dtq.Scheduler(settings)
    worker = dtq.Worker(app, settings)
    running = [asyncio.create_task(scheduler.run()), asyncio.create_task(worker.run())]
    await eventually(lambda: len(ran_at) == 2)
    worker.request_stop()
    scheduler.request_stop()
    await asyncio.gather(*running)
    assert 0 <= ran_at["at"] - due.timestamp() < 0.25
    assert 0.4 <= ran_at["delay"] - delayed_from < 0.65


async def test_dead_letters_page_newest_first_filter_and_redrive(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)

    @app.task(max_retries=0)
    def boom(payload: int) -> None:
        raise RuntimeError(f"boom {payload}")

    producer = Client(settings, store=client.store, app=app)
    for n in range(7):
        await producer.enqueue("boom", n)
        await producer.enqueue("fail", {"message": f"other {n}"})
        await run_burst(settings, app)  # one death per call keeps their order unambiguous
    page = await client.dead("default", limit=4)
    assert len(page.tasks) == 4 and page.next_cursor
    assert [t.payload for t in page.tasks[:2]] == [{"message": "other 6"}, 6]
    rest = await client.dead("default", limit=100, cursor=page.next_cursor)
    assert rest.next_cursor is None
    everything = [t.id for t in page.tasks + rest.tasks]
    assert len(everything) == 14 and len(set(everything)) == 14
    booms = await client.dead("default", task="boom", limit=3)
    assert [t.payload for t in booms.tasks] == [6, 5, 4]
    assert booms.tasks[0].error is not None and booms.tasks[0].error.message == "boom 6"

    assert await client.redrive("default", ids=[booms.tasks[0].id]) == 1
    assert await client.redrive("default", task="boom") == 6
    stats = await client.queue_stats("default")
    assert (stats.dead, stats.ready) == (7, 7)
    assert await client.purge_dead("default", task="fail") == 7
    assert (await client.queue_stats("default")).dead == 0


async def test_retention_deletes_finished_records_and_memory_returns(client: Client) -> None:
    fast = tuned(client.settings, retention={"finished": 0.2, "dead": 0.2, "idempotency": 0.2})
    producer = Client(fast, store=client.store, app=dtq.App(builtins=True))
    ok = await producer.enqueue("echo", 1, key="once")
    dead = await producer.enqueue("fail")
    await run_burst(fast)
    assert (await client.get(ok.id)).state is TaskState.SUCCEEDED
    scheduler = dtq.Scheduler(fast)
    sweeping = asyncio.create_task(scheduler.run())

    async def forgotten() -> bool:
        try:
            await client.get(ok.id, "default")
        except TaskNotFound:
            return (await client.queue_stats("default")).dead == 0
        return False

    await eventually(forgotten)
    scheduler.request_stop()
    await sweeping
    keys = client.store.keys("default")
    for column in keys.columns:
        assert await client.store.redis.hlen(column) == 0, column
    assert await client.store.redis.hlen(keys.idempotency) == 0
    assert dead.id not in [t.id for t in (await client.dead("default")).tasks]


def test_sync_client_offers_the_same_operations(settings: Settings) -> None:
    with dtq.SyncClient(settings) as client:
        task = client.enqueue("echo", {"sync": True}, queue="syncq")
        assert client.get(task.id).state is TaskState.QUEUED
        assert client.queue_stats("syncq").ready == 1
        client.pause("syncq")
        assert client.queue_stats("syncq").paused
        client.resume("syncq")
        assert client.cancel(task.id).state == "cancelled"
        assert client.queues() == ["syncq"]


def test_the_sync_clients_direct_enqueue_stores_what_the_long_way_stores(settings: Settings) -> None:
    """After the first call (which loads the scripts and registers the queue), enqueues go out
    on the caller's thread; they must store the same tasks, survive a server that forgot its
    scripts, and leave other shapes (several queues) to the async client."""
    with dtq.SyncClient(settings) as client:
        first = client.enqueue("echo", 1, queue="direct", priority=9)
        second = client.enqueue("echo", 2, queue="direct", key="k")
        again = client.enqueue("echo", 3, queue="direct", key="k")  # idempotency key seen
        assert again.id == second.id and again.outcome is Stored.DUPLICATE_KEY
        url = settings.redis.url.get_secret_value()
        if url.startswith("redis://"):  # one server (the direct path's only kind): it forgets its scripts
            redis.Redis.from_url(url).script_flush()
        third = client.enqueue("echo", 4, queue="direct")
        mixed = client.enqueue_many([dtq.TaskRequest(task="echo", queue=q) for q in ("direct", "other")])
        assert [client.get(t.id).payload for t in (first, second, third)] == [1, 2, 4]
        assert client.queue_stats("direct").ready_by_priority[9] == 1
        assert client.queue_stats("direct").ready == 4 and client.queue_stats("other").ready == 1
        assert {t.state for t in mixed} == {"queued"}
