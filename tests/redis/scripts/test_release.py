"""release.lua: 1 = handed back (or cancelled on request), 0 = lease lost."""

from __future__ import annotations

from dtq.store import calls
from dtq.store.calls import HandBack
from tests.redis.scripts.conftest import Queue


async def test_hands_back_to_the_old_place_without_counting_the_attempt(queue: Queue) -> None:
    first, second = await queue.add(2)
    (held,) = (await queue.claim(1, token="mine")).tasks
    assert held.id == first
    flags = await queue.scripts.run(calls.release(queue.keys, [HandBack(first, "mine", "t", held.ready_ms)]))
    assert flags == [True]
    assert await queue.state(first) == "queued"
    assert await queue.queued() == [first, second]
    assert await queue.attempts(first) == 0


async def test_a_stale_token_is_refused(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="new")
    flags = await queue.scripts.run(calls.release(queue.keys, [HandBack(task_id, "old", "t", 0)]))
    assert flags == [False]
    assert await queue.state(task_id) == "active"


async def test_a_requested_cancel_is_honoured(queue: Queue) -> None:
    (task_id,) = await queue.add()
    (held,) = (await queue.claim(token="mine")).tasks
    await queue.scripts.run(calls.cancel(queue.keys, task_id))
    await queue.scripts.run(calls.release(queue.keys, [HandBack(task_id, "mine", "t", held.ready_ms)]))
    assert await queue.state(task_id) == "cancelled"
    assert await queue.queued() == []
