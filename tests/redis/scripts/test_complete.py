"""complete.lua: 1 = recorded, 2 = recorded after the lease lapsed, 0 = refused."""

from __future__ import annotations

from dtq.store import calls
from dtq.store.calls import Success
from dtq.store.scripts import read_script
from tests.redis.scripts.conftest import Queue


async def test_records_success_result_and_finish_time(queue: Queue) -> None:
    (task_id,) = await queue.add()
    batch = await queue.claim(token="mine")
    flags = await queue.scripts.run(calls.complete(queue.keys, [Success(task_id, "mine", "t", b'{"ok":1}')]))
    assert flags == [True]
    assert await queue.state(task_id) == "succeeded"
    assert await queue.client.store.redis.hget(queue.keys.column("result"), task_id) == b'{"ok":1}'
    assert await queue.members(queue.keys.active) == []
    finished = await queue.client.store.redis.zscore(queue.keys.succeeded, task_id)
    assert finished is not None and 0 <= finished - batch.now_ms < 1000


async def test_a_stale_token_is_refused_and_writes_nothing(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="new")
    flags = await queue.scripts.run(calls.complete(queue.keys, [Success(task_id, "old", "t", b"1")]))
    assert flags == [False]
    assert await queue.state(task_id) == "active"
    assert await queue.client.store.redis.hget(queue.keys.column("result"), task_id) is None


async def test_a_repeated_completion_is_refused(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="mine")
    done = calls.complete(queue.keys, [Success(task_id, "mine", "t", None)])
    assert await queue.scripts.run(done) == [True]
    assert await queue.scripts.run(done) == [False]
    assert await queue.client.store.redis.zcard(queue.keys.succeeded) == 1


async def test_mixed_batch_gets_a_verdict_per_task(queue: Queue) -> None:
    ids = await queue.add(3)
    await queue.claim(token="mine")
    items = [Success(ids[0], "mine", "t", None), Success(ids[1], "nope", "t", None), Success(ids[2], "mine", "t", None)]
    assert await queue.scripts.run(calls.complete(queue.keys, items)) == [True, False, True]
    assert await queue.state(ids[1]) == "active"


async def test_a_late_success_takes_a_requeued_task_out_of_line(queue: Queue) -> None:
    (task_id,) = await queue.add(max_retries=3)
    await queue.claim(token="mine")
    await queue.lapse(task_id)
    assert await queue.state(task_id) == "queued"
    call = calls.complete(queue.keys, [Success(task_id, "mine", "t", b"7")])
    reply = await queue.client.store.redis.eval(read_script(call.script), len(call.keys), *call.keys, *call.args)
    assert reply == [2]  # the script's own code: recorded after the lease lapsed
    assert await queue.state(task_id) == "succeeded"
    assert await queue.queued() == []
    assert await queue.client.store.redis.hget(queue.keys.column("error"), task_id) is None
    assert await queue.client.store.redis.hget(queue.keys.column("result"), task_id) == b"7"
    assert (await queue.claim(token="next")).tasks == []  # it is not run again


async def test_a_late_success_brings_a_task_back_from_the_dead_letters(queue: Queue) -> None:
    (task_id,) = await queue.add(max_retries=0)
    await queue.claim(token="mine")
    await queue.lapse(task_id)
    assert await queue.state(task_id) == "dead"
    flags = await queue.scripts.run(calls.complete(queue.keys, [Success(task_id, "mine", "t", None)]))
    assert flags == [True]
    assert await queue.state(task_id) == "succeeded"
    assert await queue.members(queue.keys.dead) == []
    assert await queue.members(queue.keys.succeeded) == [task_id]


async def test_a_late_success_is_refused_once_a_newer_attempt_started(queue: Queue) -> None:
    (task_id,) = await queue.add(max_retries=3)
    await queue.claim(token="first")
    await queue.lapse(task_id)
    await queue.claim(token="second")
    flags = await queue.scripts.run(calls.complete(queue.keys, [Success(task_id, "first", "t", None)]))
    assert flags == [False]
    assert await queue.state(task_id) == "active"


async def test_a_late_success_does_not_undo_a_cancel(queue: Queue) -> None:
    (task_id,) = await queue.add(max_retries=3)
    await queue.claim(token="mine")
    await queue.lapse(task_id)
    await queue.scripts.run(calls.cancel(queue.keys, task_id))
    flags = await queue.scripts.run(calls.complete(queue.keys, [Success(task_id, "mine", "t", None)]))
    assert flags == [False]
    assert await queue.state(task_id) == "cancelled"
