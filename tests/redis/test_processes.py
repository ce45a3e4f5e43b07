"""Real `dtq worker` and `dtq scheduler` processes, killed, frozen and stopped like in production."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from dtq.client import Client
from dtq.settings import Settings
from dtq.task import TaskState
from dtq.worker import OUTCOME_NOT_RECORDED
from tests.redis.scripts.conftest import eventually
from tests.support import processes


@pytest.fixture
def spawn(settings: Settings, tmp_path: Path) -> Iterator[object]:
    started: list[subprocess.Popen[bytes]] = []

    def run(*args: str, **env: str) -> subprocess.Popen[bytes]:
        environment = processes.dtq_env(
            settings.redis.url.get_secret_value(), settings.redis.key_prefix, tmp_path, **env
        )
        process = processes.start(list(args), environment, tmp_path / "processes.log")
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def oracle(client: Client, key: str, event: str) -> list[tuple[str, int, int]]:
    rows = await client.store.redis.lrange(f"{key}:{event}", 0, -1)
    return [(i, int(p), int(a)) for i, p, a in (r.decode().split("|") for r in rows)]


async def all_succeeded(client: Client, ids: list[str]) -> bool:
    records = await client.get_many("default", ids)
    return all(r is not None and r.state is TaskState.SUCCEEDED for r in records)


async def test_a_task_whose_worker_is_killed_completes_elsewhere(client: Client, spawn, prefix: str) -> None:  # type: ignore[no-untyped-def]
    key = f"{prefix}:oracle"
    ids = [o.id for o in await client.enqueue_many(
        [client.request("record", {"oracle": key, "sleep": 0.5}) for _ in range(8)])]  # fmt: skip
    victim = spawn("worker", "--app", "tests.support.apps:app", "--concurrency", "4")
    await eventually(lambda: _count(client, key, "starts", 4), timeout=20)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    spawn("scheduler")
    spawn("worker", "--app", "tests.support.apps:app", "--concurrency", "4")
    await eventually(lambda: all_succeeded(client, ids), timeout=30)
    starts = await oracle(client, key, "starts")
    finishes = await oracle(client, key, "finishes")
    assert {i for i, _, _ in finishes} == set(ids)  # nothing lost
    assert len(starts) - len(ids) <= 4  # extra runs bounded by one worker's concurrency
    killed = {i for i, pid, _ in starts if pid == victim.pid}
    assert killed, "the kill caught no task in flight"
    finished_by = {i: pid for i, pid, _ in finishes}
    for task_id in killed:
        record = await client.get(task_id)
        assert record.attempts == 2 and record.worker is not None
        _host, pid, _ = record.worker.split(":")  # a worker id is host:pid:random
        assert int(pid) != victim.pid and finished_by[task_id] != victim.pid
        assert record.result == {"pid": finished_by[task_id]}


async def _logged(log: Path, line: str) -> bool:
    return line in await asyncio.to_thread(log.read_text)


async def _count(client: Client, key: str, event: str, at_least: int) -> bool:
    return await client.store.redis.llen(f"{key}:{event}") >= at_least


async def test_a_frozen_worker_cannot_overwrite_the_outcome_after_its_lease(
    client: Client, spawn, prefix: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    key = f"{prefix}:oracle"
    task = await client.enqueue("record", {"oracle": key, "sleep": 0.3})
    frozen = spawn("worker", "--app", "tests.support.apps:app", "--concurrency", "1")
    await eventually(lambda: _count(client, key, "starts", 1), timeout=20)
    os.kill(frozen.pid, signal.SIGSTOP)
    spawn("scheduler")
    rescuer = spawn("worker", "--app", "tests.support.apps:app", "--concurrency", "1")
    await eventually(lambda: all_succeeded(client, [task.id]), timeout=30)
    os.kill(frozen.pid, signal.SIGCONT)
    # the frozen worker wakes up, finishes its run, and tries to record it
    await eventually(lambda: _count(client, key, "finishes", 2), timeout=20)
    refusal = f"task {task.id} {OUTCOME_NOT_RECORDED}"  # the frozen worker's own word that it was refused
    await eventually(lambda: _logged(tmp_path / "processes.log", refusal), timeout=20)
    record = await client.get(task.id)
    assert record.state is TaskState.SUCCEEDED
    assert record.result == {"pid": rescuer.pid}
    assert (await client.queue_stats("default")).succeeded == 1
    totals = await client.store.redis.hgetall(client.store.keys("default").totals)
    assert totals[b"succeeded|record"] == b"1"


async def test_sigterm_lets_running_tasks_finish_and_claims_nothing_more(client: Client, spawn, prefix: str) -> None:  # type: ignore[no-untyped-def]
    key = f"{prefix}:oracle"
    ids = [o.id for o in await client.enqueue_many(
        [client.request("record", {"oracle": key, "sleep": 0.5}) for _ in range(6)])]  # fmt: skip
    worker = spawn("worker", "--app", "tests.support.apps:app", "--concurrency", "2", WORKER_SHUTDOWN_GRACE="10")
    await eventually(lambda: _count(client, key, "starts", 2), timeout=20)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    starts = await oracle(client, key, "starts")
    finishes = await oracle(client, key, "finishes")
    assert len(starts) == 2 and sorted(starts) == sorted((i, p, a) for i, p, a in finishes)
    stats = await client.queue_stats("default")
    assert (stats.succeeded, stats.ready, stats.active) == (2, 4, 0)
    spawn("worker", "--app", "tests.support.apps:app", "--concurrency", "4")
    await eventually(lambda: all_succeeded(client, ids), timeout=30)
    assert Counter(i for i, _, _ in await oracle(client, key, "finishes")) == Counter(ids)


async def test_sigterm_past_the_grace_period_hands_tasks_back_at_once(client: Client, spawn, prefix: str) -> None:  # type: ignore[no-untyped-def]
    key = f"{prefix}:oracle"
    ids = [o.id for o in await client.enqueue_many(
        [client.request("record", {"oracle": key, "sleep": 30}) for _ in range(2)])]  # fmt: skip
    worker = spawn("worker", "--app", "tests.support.apps:app", "--concurrency", "2", WORKER_SHUTDOWN_GRACE="0.5")
    await eventually(lambda: _count(client, key, "starts", 2), timeout=20)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(10) == 0
    for record in await client.get_many("default", ids):
        assert record is not None and (record.state, record.attempts) == (TaskState.QUEUED, 0)
    assert await client.store.redis.llen(f"{key}:finishes") == 0


@pytest.mark.parametrize("handler", ["stubborn", "record_sync"], ids=["async-ignores-cancel", "sync-thread"])
async def test_a_handler_that_will_not_stop_cannot_keep_the_worker_alive(
    client: Client, spawn, prefix: str, handler: str
) -> None:  # type: ignore[no-untyped-def]
    key = f"{prefix}:oracle"
    task = await client.enqueue(handler, {"oracle": key, "sleep": 600})
    worker = spawn("worker", "--app", "tests.support.apps:app", "--concurrency", "1",
                   WORKER_SHUTDOWN_GRACE="0.2", WORKER_SHUTDOWN_HARD_DEADLINE="0.5")  # fmt: skip
    await eventually(lambda: _count(client, key, "starts", 1), timeout=20)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0  # without the bounds it waits for the handler: 600 s
    record = await client.get(task.id)
    assert (record.state, record.attempts) == (TaskState.QUEUED, 0)  # handed back, no attempt counted


async def test_two_schedulers_promote_each_task_once(client: Client, settings: Settings) -> None:
    from dtq.scheduler import Scheduler, SchedulerState

    ids = [o.id for o in await client.enqueue_many(
        [client.request("echo", n, delay=(n % 50 + 1) / 100) for n in range(500)])]  # fmt: skip
    first, second = Scheduler(settings), Scheduler(settings)
    await asyncio.gather(first.start(), second.start())  # the Worker's lifecycle: start, then stop
    await eventually(lambda: _ready(client, 500), timeout=20)
    await asyncio.gather(first.stop(), second.stop())
    assert first.state is second.state is SchedulerState.STOPPED
    assert first.promoted + second.promoted == 500
    assert first.promoted > 0 and second.promoted > 0  # both took part, neither promoted a task twice

    assert {r.state for r in await client.get_many("default", ids) if r} == {TaskState.QUEUED}


async def _ready(client: Client, count: int) -> bool:
    return (await client.queue_stats("default")).ready == count


async def test_the_scheduler_liveness_check_follows_its_stamp(settings: Settings) -> None:
    from dtq.scheduler import Scheduler
    from services.scheduler import check

    assert check(settings) == 1  # nothing has stamped yet
    scheduler = Scheduler(settings)
    running = asyncio.create_task(scheduler.run())
    await eventually(lambda: check(settings) == 0)
    scheduler.request_stop()
    await running
