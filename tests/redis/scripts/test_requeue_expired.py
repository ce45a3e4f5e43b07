"""requeue_expired.lua: {requeued, dead, cancelled} for leases that ran out."""

from __future__ import annotations

import orjson

from dtq.store import calls
from tests.redis.scripts.conftest import Queue, eventually


async def recover(queue: Queue) -> calls.Recovery:
    totals = calls.Recovery(0, 0, 0)

    async def done() -> bool:
        nonlocal totals
        result = await queue.scripts.run(calls.requeue_expired(queue.keys, 100))
        totals = calls.Recovery(totals.requeued + result.requeued, totals.dead + result.dead,
                                totals.cancelled + result.cancelled)  # fmt: skip
        return await queue.client.store.redis.zcard(queue.keys.active) == 0

    await eventually(done)
    return totals


async def test_live_leases_are_left_alone(queue: Queue) -> None:
    await queue.add()
    await queue.claim(lease_ms=60_000)
    result = await queue.scripts.run(calls.requeue_expired(queue.keys, 100))
    assert result == calls.Recovery(0, 0, 0)


async def test_an_expired_lease_is_requeued_and_counts_an_attempt(queue: Queue) -> None:
    (task_id,) = await queue.add(max_retries=2)
    await queue.claim(lease_ms=20)
    assert await recover(queue) == calls.Recovery(1, 0, 0)
    assert await queue.state(task_id) == "queued"
    # the lost run counts; its record keeps the lost claim's token, which holds nothing once queued
    assert await queue.attempts(task_id) == 1
    error = orjson.loads(await queue.client.store.redis.hget(queue.keys.column("error"), task_id) or b"{}")
    assert error["type"] == "LeaseExpired"
    (again,) = (await queue.claim()).tasks
    assert again.attempt == 2


async def test_a_recovered_task_keeps_its_place_ahead_of_later_tasks(queue: Queue) -> None:
    (first,) = await queue.add(priority=5)
    await queue.claim(lease_ms=20)
    later = await queue.add(3, priority=5)
    (urgent,) = await queue.add(priority=9)
    assert await recover(queue) == calls.Recovery(1, 0, 0)
    claimed = [t.id for t in (await queue.claim(10)).tasks]
    assert claimed == [urgent, first, *later]


async def test_the_last_attempt_ends_dead(queue: Queue) -> None:
    (task_id,) = await queue.add(max_retries=0)
    await queue.claim(lease_ms=20)
    assert await recover(queue) == calls.Recovery(0, 1, 0)
    assert await queue.state(task_id) == "dead"
    assert await queue.members(queue.keys.dead) == [task_id]


async def test_a_requested_cancel_ends_cancelled(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(lease_ms=50)
    await queue.scripts.run(calls.cancel(queue.keys, task_id))
    assert await recover(queue) == calls.Recovery(0, 0, 1)
    assert await queue.state(task_id) == "cancelled"


async def test_an_undecodable_record_ends_dead(queue: Queue) -> None:
    (task_id,) = await queue.add(max_retries=5)
    await queue.client.store.redis.hset(queue.keys.column("spec"), task_id, b"\x80\x04pickle")
    await queue.claim(lease_ms=20)
    assert await recover(queue) == calls.Recovery(0, 1, 0)
