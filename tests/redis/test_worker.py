"""The worker, run in-process in burst mode against a real Redis."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

import dtq
from dtq.backoff import Backoff
from dtq.client import Client
from dtq.settings import Settings
from dtq.task import TaskState
from dtq.worker import Worker, WorkerState
from tests.conftest import tuned
from tests.redis.scripts.conftest import eventually
from tests.support.redis_server import RedisServer


async def run_burst(app: dtq.App, settings: Settings, **options: Any) -> Worker:
    worker = Worker(app, settings, burst=True, **options)
    async with asyncio.timeout(30):
        await worker.run()
    return worker


async def test_runs_async_and_sync_handlers_and_stores_results(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)

    @app.task
    async def double(payload: int) -> int:
        return payload * 2

    @app.task(name="upper")
    def upper(payload: str) -> str:
        return payload.upper()

    a = await client.enqueue("double", 21)
    b = await client.enqueue("upper", "hi")
    e = await client.enqueue("echo", {"x": [1, 2]})
    worker = await run_burst(app, settings)
    assert worker.state is WorkerState.STOPPED
    assert (await client.get(a.id)).result == 42
    assert (await client.get(b.id)).result == "HI"
    record = await client.get(e.id)
    assert (record.state, record.result, record.attempts) == (TaskState.SUCCEEDED, {"x": [1, 2]}, 1)
    assert record.worker == worker.id and record.started_at and record.finished_at


async def test_failures_retry_with_backoff_then_die_after_max_retries_plus_one(
    client: Client, settings: Settings
) -> None:
    app = dtq.App(builtins=True)
    attempts: list[tuple[int, float]] = []

    @app.task(max_retries=3, backoff=Backoff(base=0.05, factor=2, max=1, jitter=0.5))
    def flaky(_payload: None, ctx: dtq.TaskContext) -> None:
        attempts.append((ctx.attempt, time.monotonic()))
        raise ValueError(f"attempt {ctx.attempt}")

    task = await Client(settings, store=client.store, app=app).enqueue("flaky")
    scheduler = dtq.Scheduler(settings)
    sweeping = asyncio.create_task(scheduler.run())
    worker = Worker(app, settings)
    working = asyncio.create_task(worker.run())
    await eventually(lambda: _state_is(client, task.id, TaskState.DEAD))
    worker.request_stop()
    scheduler.request_stop()
    await asyncio.gather(working, sweeping)
    assert [n for n, _ in attempts] == [1, 2, 3, 4]
    policy = Backoff(base=0.05, factor=2, max=1, jitter=0.5)
    for (n, started), (_, next_started) in itertools.pairwise(attempts):
        low, high = policy.bounds(n)
        # the gap is the delay plus at most one scheduler wake-up and a claim
        assert low <= next_started - started <= high + settings.scheduler.poll_interval + 0.3
    record = await client.get(task.id)
    assert record.attempts == 4
    assert record.error is not None and record.error.type == "ValueError" and "attempt 4" in record.error.message
    assert record.error.traceback and "flaky" in record.error.traceback


async def _state_is(client: Client, task_id: str, state: TaskState) -> bool:
    return (await client.get(task_id)).state is state


async def test_retry_overrides_the_delay_and_abort_dies_at_once(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)

    @app.task(max_retries=5)
    async def once_more(_payload: None, ctx: dtq.TaskContext) -> int:
        if ctx.attempt == 1:
            raise dtq.Retry(delay=0)
        return ctx.attempt

    @app.task(max_retries=5)
    async def hopeless(_payload: None) -> None:
        raise dtq.Abort("the account is closed")

    producer = Client(settings, store=client.store, app=app)
    retried = await producer.enqueue("once_more")
    aborted = await producer.enqueue("hopeless")
    await run_burst(app, settings)
    assert (await client.get(retried.id)).result == 2
    record = await client.get(aborted.id)
    assert record.state is TaskState.DEAD and record.attempts == 1
    assert record.error is not None and (record.error.type, record.error.message) == ("Abort", "the account is closed")


async def test_async_timeout_cancels_and_sync_timeout_abandons_the_thread(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)
    cancelled = asyncio.Event()
    release = threading.Event()

    @app.task(max_retries=0, timeout=0.1)
    async def slow(_payload: None) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    @app.task(max_retries=0, timeout=0.1)
    def stuck(_payload: None) -> None:
        release.wait(10)

    producer = Client(settings, store=client.store, app=app)
    a = await producer.enqueue("slow")
    b = await producer.enqueue("stuck")
    worker = Worker(app, settings, burst=True, concurrency=2)
    running = asyncio.create_task(worker.run())
    await eventually(lambda: _state_is(client, b.id, TaskState.DEAD))
    await eventually(lambda: worker._slots.abandoned == 1 and not len(worker._slots))
    assert worker.free_slots() == 1  # the abandoned thread still holds its slot
    release.set()
    await eventually(lambda: worker.free_slots() == 2)
    await running
    assert cancelled.is_set()
    for task_id in (a.id, b.id):
        record = await client.get(task_id)
        assert record.state is TaskState.DEAD
        assert record.error is not None and record.error.type == "TaskTimeout"


async def test_unknown_tasks_die_by_default_and_succeed_when_set_to_log(client: Client, settings: Settings) -> None:
    task = await client.enqueue("no_such_handler", 1)
    await run_burst(dtq.App(builtins=True), settings)
    record = await client.get(task.id)
    assert record.state is TaskState.DEAD
    assert record.error is not None and record.error.type == "UnknownTask" and "no_such_handler" in record.error.message

    logging_settings = tuned(settings, worker={"unknown_tasks": "log"})
    task = await client.enqueue("no_such_handler", 2)
    await run_burst(dtq.App(builtins=True), logging_settings)
    assert (await client.get(task.id)).state is TaskState.SUCCEEDED


async def test_a_record_that_is_not_dtq_json_is_dead_lettered_not_run(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)
    ran = []

    @app.task
    async def victim(payload: Any) -> None:
        ran.append(payload)

    pickled = await client.enqueue("victim", 1)
    foreign = await client.enqueue("victim", 2)
    keys = client.store.keys("default")
    await client.store.redis.hset(
        keys.column("spec"), pickled.id, b"\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00\x8c\x02os"
    )
    await client.store.redis.hset(
        keys.column("spec"), foreign.id, msgspec.json.encode({"task": "os.system", "args": ["x"], "kwargs": {}})
    )
    await run_burst(app, settings)
    assert ran == []
    for task_id in (pickled.id, foreign.id):
        record = await client.get(task_id)
        assert record.state is TaskState.DEAD and record.task == "<undecodable>"
        assert record.error is not None and record.error.type == "UndecodableTask"


async def test_strict_priority_runs_higher_first_and_fifo_within_a_level(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)
    order: list[int] = []

    @app.task
    async def note(payload: int) -> None:
        order.append(payload)

    requests = [client.request("note", n, priority=p) for n, p in enumerate([1, 5, 9, 5, 1, 9, 0])]
    await client.enqueue_many(requests)
    await run_burst(app, settings, concurrency=1)
    assert order == [2, 5, 1, 3, 0, 4, 6]


async def test_weighted_priority_lets_low_priorities_progress(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)
    order: list[int] = []

    @app.task
    async def note(payload: int) -> None:
        order.append(payload)

    await client.enqueue_many([client.request("note", 9, priority=9) for _ in range(200)])
    await client.enqueue_many([client.request("note", 0, priority=0) for _ in range(200)])
    weighted = tuned(settings, worker={"priority_mode": "weighted", "priority_weights": "1,1,1,1,1,1,1,1,1,3"})
    await run_burst(app, weighted, concurrency=1)
    first_half = order[:200]
    # strict mode would run all 200 urgent tasks first; weights 3:1 give the low level ~1/4 of the claims
    assert 20 <= first_half.count(0) <= 90


async def test_a_running_handler_observes_a_cancel_request(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)
    started = asyncio.Event()

    @app.task
    async def long(_payload: None, ctx: dtq.TaskContext) -> None:
        started.set()
        await ctx.wait_cancelled()
        raise RuntimeError("stopping as asked")

    task = await client.enqueue("long")
    running = asyncio.create_task(run_burst(app, settings))
    await started.wait()
    outcome = await client.cancel(task.id)
    assert outcome.state == "active"
    await running
    assert (await client.get(task.id)).state is TaskState.CANCELLED


async def test_never_holds_more_than_concurrency_tasks(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)
    running = 0
    peak = 0

    @app.task
    async def busy(_payload: None) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)
        running -= 1

    await client.enqueue_many([client.request("busy") for _ in range(200)])
    await run_burst(app, settings, concurrency=7)
    assert peak == 7


async def test_leases_are_renewed_while_a_long_task_runs(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)
    runs = 0

    @app.task
    async def long(_payload: None) -> None:
        nonlocal runs
        runs += 1
        await asyncio.sleep(settings.worker.lease * 2.5)

    task = await client.enqueue("long")
    scheduler = dtq.Scheduler(settings)
    sweeping = asyncio.create_task(scheduler.run())
    await run_burst(app, settings)
    scheduler.request_stop()
    await sweeping
    assert runs == 1 and scheduler.recovered == 0
    assert (await client.get(task.id)).state is TaskState.SUCCEEDED


async def test_a_paused_queue_is_not_claimed(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)
    await client.enqueue("echo", 1)
    await client.pause("default")
    assert (await client.queue_stats("default")).paused
    await run_burst(app, settings)
    assert (await client.queue_stats("default")).ready == 1
    await client.resume("default")
    await run_burst(app, settings)
    assert (await client.queue_stats("default")).ready == 0


async def test_registers_heartbeats_and_stamps_its_health_file(client: Client, settings: Settings) -> None:
    worker = Worker(dtq.App(builtins=True), settings, queues=["default", "other"], concurrency=3)
    running = asyncio.create_task(worker.run())
    await eventually(lambda: _has_worker(client, worker.id))
    (info,) = [w for w in await client.workers() if w.id == worker.id]
    assert (info.queues, info.concurrency, info.state) == (["default", "other"], 3, "running")
    from services.worker import check

    assert check(settings) == 0
    worker.request_stop()
    await running
    assert not await _has_worker(client, worker.id)


async def _has_worker(client: Client, worker_id: str) -> bool:
    return any(w.id == worker_id for w in await client.workers())


async def test_request_stop_drains_running_tasks_within_the_grace_period(client: Client, settings: Settings) -> None:
    app = dtq.App(builtins=True)
    started = asyncio.Event()

    @app.task
    async def short(_payload: None) -> str:
        started.set()
        await asyncio.sleep(0.2)
        return "finished"

    task = await client.enqueue("short")
    worker = Worker(app, settings)
    running = asyncio.create_task(worker.run())
    await started.wait()
    worker.request_stop()
    await running
    assert (await client.get(task.id)).result == "finished"


async def test_tasks_past_the_grace_period_are_handed_back_without_an_attempt(
    client: Client, settings: Settings
) -> None:
    app = dtq.App(builtins=True)
    started = asyncio.Event()

    @app.task
    async def endless(_payload: None) -> None:
        started.set()
        await asyncio.sleep(60)

    quick = tuned(settings, worker={"shutdown_grace": 0.1})
    task = await client.enqueue("endless")
    worker = Worker(app, quick)
    running = asyncio.create_task(worker.run())
    await started.wait()
    worker.request_stop()
    await running
    record = await client.get(task.id)
    assert (record.state, record.attempts) == (TaskState.QUEUED, 0)


@pytest.mark.parametrize("mode", ["strict", "weighted"])
async def test_claims_in_batches(client: Client, settings: Settings, mode: str) -> None:
    batching = tuned(settings, worker={"priority_mode": mode})
    await client.enqueue_many([client.request("echo", n) for n in range(1000)])
    await client.store.redis.config_resetstat()
    await run_burst(dtq.App(builtins=True), batching, concurrency=100)
    stats = await client.store.redis.info("commandstats")
    assert (await client.queue_stats("default")).succeeded == 1000
    # one claim and one completion script per ~100 tasks, not one round trip per task
    assert stats["cmdstat_evalsha"]["calls"] < 100


async def test_a_burst_worker_runs_what_is_queued_behind_cancelled_tasks(client: Client, settings: Settings) -> None:
    """A claim passes at most 1,000 stale entries (cancelled while queued) and answers with none:
    the worker must claim again, not take the queue for empty and stop."""
    app = dtq.App()
    ran: list[int] = []

    @app.task
    async def job(payload: int) -> None:
        ran.append(payload)

    outcomes = await client.enqueue_many([dtq.TaskRequest(task="job", payload=n) for n in range(1_300)])
    for outcome in outcomes[:1_200]:
        await client.cancel(outcome.id)
    await run_burst(app, settings)
    assert ran == list(range(1_200, 1_300))


async def test_an_idle_worker_is_handed_an_enqueued_task_without_a_claim(client: Client, settings: Settings) -> None:
    app = dtq.App()
    ran = asyncio.Event()

    @app.task
    async def job(payload: int) -> int:
        ran.set()
        return payload

    keys = client.store.keys("default")
    worker = Worker(app, settings)
    await worker.start()
    try:
        await eventually(lambda: client.store.redis.hlen(keys.parked))  # its empty claim parked it
        (parked,) = [t.decode() for t in await client.store.redis.hkeys(keys.parked)]
        outcome = await client.enqueue("job", 7)
        async with asyncio.timeout(5):
            await ran.wait()
        run = await client.store.redis.hget(keys.column("run"), outcome.id)
        assert run is not None and run.decode().endswith(f"|{parked}")  # leased by the enqueue itself
        await eventually(lambda: worker.processed == 1)
    finally:
        await worker.stop()
    assert await client.store.redis.hlen(keys.parked) == 0  # a stopped worker is handed nothing
    assert (await client.get(outcome.id)).result == 7


async def test_a_hand_over_that_arrives_while_its_token_is_being_claimed_is_held_once(
    client: Client, settings: Settings
) -> None:
    """The worker claims with its park token just as the enqueue's message arrives: the claim's
    reply (a resend) and the message carry the same task, which must be held once."""
    worker = Worker(dtq.App(), settings)
    keys = client.store.keys("default")
    pubsub = client.store.redis.pubsub()
    await pubsub.subscribe(client.store.global_keys.inbox(worker.id))
    try:
        await worker._claim("default", 10)  # nothing queued: parked under its next token
        assert await client.store.redis.hlen(keys.parked) == 1
        await client.enqueue("job", 1)  # leased to that token, and sent
        message = None
        while message is None or message["type"] != "message":
            message = await pubsub.get_message(timeout=1)
        claim = asyncio.create_task(worker._claim("default", 10))  # sent with the park token
        await asyncio.sleep(0)  # the claim is in flight
        worker._on_notification(client.store.global_keys.inbox(worker.id), message["data"].decode())
        assert len(worker._slots) == 0  # left to the claim's reply
        await claim
        assert len(worker._slots) == 1
    finally:
        await pubsub.aclose()
        for held in worker._slots:
            if held.runner is not None:
                held.runner.cancel()


async def test_a_claim_whose_reply_was_lost_after_it_parked_the_worker_loses_no_hand_over(
    settings: Settings, tmp_path: Path
) -> None:
    """Redis stalls while an idle worker's claim is in flight: the claim runs after the client
    gave up on it, parking the worker under a token the worker never heard of. A hand-over to
    that token must still reach the worker, not wait out a lease (the chaos suite's Redis stall
    found two such tasks dead-lettered after their lease)."""
    app = dtq.App()
    ran: list[int] = []

    @app.task
    async def job(payload: int) -> None:
        ran.append(payload)

    server = RedisServer(tmp_path / "redis").start()
    own = tuned(settings, redis={"url": server.url, "socket_timeout": 0.2}, worker={"idle_poll": 0.5})
    client = Client(own)
    worker = Worker(app, own)
    try:
        await client.connect()
        await worker.start()
        await eventually(lambda: client.store.redis.hlen(client.store.keys("default").parked))
        for _ in range(3):  # each stall outlasts a claim and redis-py's resends of it
            server.pause()
            await asyncio.sleep(1.5)
            server.resume()
            await asyncio.sleep(0.3)
        for n in range(20):
            await client.enqueue("job", n)
        await eventually(lambda: len(ran) == 20, timeout=5)  # not a 30 s lease later
    finally:
        server.resume()
        await worker.stop()
        await client.close()
        server.stop()


async def test_an_idle_worker_on_many_queues_claims_them_rarely_and_still_hears_of_new_work(
    client: Client, settings: Settings
) -> None:
    """200 empty queues, polled every 50 ms: each empty queue is claimed again only every ten
    polls (it was every poll, 4,000 claims a second), and an enqueue to any of them still runs
    at once."""
    app = dtq.App()
    ran = asyncio.Event()

    @app.task
    async def job(payload: int) -> None:
        assert payload == 1
        ran.set()

    queues = [f"quiet{n}" for n in range(200)]
    worker = Worker(app, tuned(settings, worker={"idle_poll": 0.05}), queues=queues)

    async def claims() -> int:
        stats = await client.store.redis.info("commandstats")
        return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))

    await worker.start()
    try:
        await eventually(lambda: client.store.redis.hlen(client.store.keys("quiet199").parked))
        await asyncio.sleep(0.6)  # every queue has been found empty
        before = await claims()
        await asyncio.sleep(1.0)
        assert await claims() - before < 700  # about 400: 200 queues every 0.5 s
        await client.enqueue("job", 1, queue="quiet7")
        async with asyncio.timeout(1):
            await ran.wait()
    finally:
        await worker.stop()
