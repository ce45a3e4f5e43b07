"""promote.lua: moves due tasks, reports the next due time and the next lease expiry."""

from __future__ import annotations

from dtq.store import calls
from tests.redis.scripts.conftest import Queue, eventually


async def test_nothing_due_moves_nothing_and_reports_none(queue: Queue) -> None:
    result = await queue.scripts.run(calls.promote(queue.keys, 100))
    assert (result.moved, result.next_due_ms, result.next_lease_expiry_ms) == (0, None, None)


async def test_due_tasks_become_ready_in_due_order(queue: Queue) -> None:
    later = await queue.add(1, delay=0.15)
    sooner = await queue.add(1, delay=0.05)
    far = await queue.add(1, delay=3600)

    async def promoted_two() -> bool:
        await queue.scripts.run(calls.promote(queue.keys, 100))
        return len(await queue.queued()) == 2

    await eventually(promoted_two)
    assert await queue.queued() == sooner + later
    assert await queue.state(far[0]) == "scheduled"
    result = await queue.scripts.run(calls.promote(queue.keys, 100))
    assert result.next_due_ms is not None and result.next_due_ms - result.now_ms > 3_000_000


async def test_never_early_by_redis_time(queue: Queue) -> None:
    (task_id,) = await queue.add(1, delay=0.3)
    first = await queue.scripts.run(calls.promote(queue.keys, 100))
    assert first.moved == 0
    assert first.next_due_ms is not None and first.next_due_ms > first.now_ms
    due = await queue.client.store.redis.zscore(queue.keys.scheduled, task_id)
    assert due == first.next_due_ms


async def test_respects_the_limit(queue: Queue) -> None:
    await queue.add(5, delay=0.001)

    async def all_promoted() -> bool:
        result = await queue.scripts.run(calls.promote(queue.keys, 2))
        assert result.moved <= 2
        return len(await queue.queued()) == 5

    await eventually(all_promoted)


async def test_reports_the_next_lease_expiry(queue: Queue) -> None:
    await queue.add()
    batch = await queue.claim(lease_ms=7000)
    result = await queue.scripts.run(calls.promote(queue.keys, 100))
    assert result.next_lease_expiry_ms == batch.now_ms + 7000
