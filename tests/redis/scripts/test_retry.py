"""retry.lua: 1 = will retry (retrying, queued at once for delay 0, or cancelled on request), 0 = lease lost."""

from __future__ import annotations

from dtq.store import calls
from dtq.store.calls import Failure
from tests.redis.scripts.conftest import Queue

ERROR = b'{"type":"ValueError","message":"boom"}'


async def test_a_delay_puts_the_task_in_the_retrying_set(queue: Queue) -> None:
    (task_id,) = await queue.add()
    batch = await queue.claim(token="mine")
    flags = await queue.scripts.run(calls.retry(queue.keys, [Failure(task_id, "mine", "t", ERROR, 5000)]))
    assert flags == [True]
    assert await queue.state(task_id) == "retrying"
    due = await queue.client.store.redis.zscore(queue.keys.retrying, task_id)
    assert due is not None and 5000 <= due - batch.now_ms < 6000
    assert await queue.client.store.redis.hget(queue.keys.column("error"), task_id) == ERROR
    assert await queue.members(queue.keys.active) == []


async def test_zero_delay_requeues_at_once(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="mine")
    await queue.scripts.run(calls.retry(queue.keys, [Failure(task_id, "mine", "t", ERROR, 0)]))
    assert await queue.state(task_id) == "queued"
    assert await queue.queued() == [task_id]


async def test_a_stale_token_is_refused(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="new")
    flags = await queue.scripts.run(calls.retry(queue.keys, [Failure(task_id, "old", "t", ERROR, 0)]))
    assert flags == [False]
    assert await queue.state(task_id) == "active"


async def test_a_requested_cancel_ends_the_task_cancelled_instead(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="mine")
    await queue.scripts.run(calls.cancel(queue.keys, task_id))
    flags = await queue.scripts.run(calls.retry(queue.keys, [Failure(task_id, "mine", "t", ERROR, 0)]))
    assert flags == [True]
    assert await queue.state(task_id) == "cancelled"
    assert await queue.members(queue.keys.cancelled) == [task_id]
    assert await queue.queued() == []
