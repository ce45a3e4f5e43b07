"""inspect.lua and queue_stats.lua (read-only scripts)."""

from __future__ import annotations

from dtq.store import calls
from dtq.task import decode_spec
from tests.redis.scripts.conftest import Queue


async def test_inspect_returns_every_column_and_none_for_unknown_ids(queue: Queue) -> None:
    (task_id,) = await queue.add(priority=7)
    known, unknown = await queue.scripts.run(calls.inspect(queue.keys, [task_id, "nope"]))
    assert known["state"] is None and known["spec"] is not None  # queued: no state field
    assert decode_spec(known["spec"]).priority == 7
    assert all(value is None for value in unknown.values())


async def test_queue_stats_counts_each_state_and_priority(queue: Queue) -> None:
    await queue.add(2, priority=9)
    await queue.add(1, priority=0)
    await queue.add(1, delay=60)
    await queue.claim(1)
    stats = await queue.scripts.run(calls.queue_stats(queue.keys))
    assert stats.ready_by_priority[9] == 1 and stats.ready_by_priority[0] == 1 and stats.ready == 2
    assert (stats.scheduled, stats.active, stats.dead, stats.paused) == (1, 1, 0, False)
    assert stats.oldest_ready_ms is not None and stats.oldest_ready_age >= 0
