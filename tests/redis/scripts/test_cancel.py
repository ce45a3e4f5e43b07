"""cancel.lua: 1 = cancelled now, 2 = requested (active), 0 = already final, -1 = no such task."""

from __future__ import annotations

import pytest

from dtq.store import calls
from dtq.store.calls import Cancelled, Success
from tests.redis.scripts.conftest import Queue


async def cancel(queue: Queue, task_id: str) -> calls.CancelOutcome:
    return await queue.scripts.run(calls.cancel(queue.keys, task_id))


async def test_unknown_task(queue: Queue) -> None:
    assert (await cancel(queue, "nope")).outcome is Cancelled.NOT_FOUND


@pytest.mark.parametrize("fields", [{}, {"delay": 60}], ids=["queued", "scheduled"])
async def test_waiting_tasks_are_cancelled_at_once(queue: Queue, fields: dict[str, float]) -> None:
    (task_id,) = await queue.add(**fields)
    outcome = await cancel(queue, task_id)
    assert (outcome.outcome, outcome.state) == (Cancelled.NOW, "cancelled")
    assert (await queue.queued(), await queue.members(queue.keys.scheduled)) == ([], [])
    assert await queue.members(queue.keys.cancelled) == [task_id]


async def test_a_cancelled_queued_task_is_passed_over_by_the_claim(queue: Queue) -> None:
    first, second, third = await queue.add(3)
    await cancel(queue, second)
    assert await queue.queued() == [first, third]
    assert (await queue.client.queue_stats("q")).ready == 2
    assert [t.id for t in (await queue.claim(3)).tasks] == [first, third]
    assert await queue.state(second) == "cancelled"


async def test_retrying_tasks_are_cancelled_at_once(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="mine")
    await queue.scripts.run(calls.retry(queue.keys, [calls.Failure(task_id, "mine", "t", b"{}", 60_000)]))
    assert (await cancel(queue, task_id)).outcome is Cancelled.NOW
    assert await queue.members(queue.keys.retrying) == []


async def test_active_tasks_get_a_request_and_their_worker_is_told(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="mine")
    pubsub = queue.client.store.redis.pubsub()
    await pubsub.subscribe(queue.keys.worker_channel)
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    outcome = await cancel(queue, task_id)
    assert (outcome.outcome, outcome.state) == (Cancelled.REQUESTED, "active")
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
    assert message is not None and message["data"] == f"cancel {task_id}".encode()
    assert (await cancel(queue, task_id)).outcome is Cancelled.REQUESTED
    await pubsub.aclose()


async def test_final_tasks_are_left_alone(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="mine")
    await queue.scripts.run(calls.complete(queue.keys, [Success(task_id, "mine", "t", None)]))
    outcome = await cancel(queue, task_id)
    assert (outcome.outcome, outcome.state) == (Cancelled.ALREADY_FINAL, "succeeded")
