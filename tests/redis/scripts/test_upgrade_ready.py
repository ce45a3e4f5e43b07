"""upgrade_ready.lua: a queue stored by dtq 0.1 (one ready sorted set, full records, `queued`
state fields, a priority column) runs on under the queued lists without losing or reordering
a task, and the scheduler does the move by itself."""

from __future__ import annotations

import msgspec

from dtq.ids import new_ids
from dtq.scheduler import Scheduler
from dtq.settings import Settings
from dtq.store import calls
from dtq.task import decode_spec
from tests.redis.scripts.conftest import Queue

BAND = 2**42  # dtq 0.1's ready-set score: (9 - priority) * BAND + ms it became ready


async def store_as_dtq_0_1(queue: Queue, priorities: list[int]) -> list[str]:
    """Queued tasks written the way dtq 0.1 wrote them, oldest first."""
    redis = queue.client.store.redis
    ids = new_ids(len(priorities))
    for n, (task_id, priority) in enumerate(zip(ids, priorities, strict=True)):
        record = {"id": task_id, "task": "old", "queue": queue.keys.name, "priority": priority, "max_retries": 3,
                  "timeout": 300.0, "payload": {"n": n, "priority": 0}, "key": None}  # fmt: skip
        await redis.hset(queue.keys.column("spec"), task_id, msgspec.json.encode(record))
        await redis.hset(queue.keys.column("state"), task_id, "queued")
        await redis.hset(queue.keys.legacy_prio, task_id, priority)
        await redis.zadd(queue.keys.legacy_ready, {task_id: (9 - priority) * BAND + 1_000 + n})
    return ids


async def test_old_tasks_move_in_batches_ahead_of_new_ones_in_priority_order(queue: Queue) -> None:
    old = await store_as_dtq_0_1(queue, [5, 9, 5, 5, 0])
    (new,) = await queue.add(1)  # enqueued by this version before any scheduler ran
    moves = [await queue.scripts.run(calls.upgrade_ready(queue.keys, 2)) for _ in range(3)]
    assert [(m.moved, m.left) for m in moves] == [(2, 3), (2, 1), (1, 0)]
    assert await queue.queued() == [old[1], old[0], old[2], old[3], new, old[4]]
    redis = queue.client.store.redis
    assert await redis.exists(queue.keys.legacy_ready, queue.keys.legacy_prio) == 0
    assert await redis.hlen(queue.keys.column("state")) == 0  # queued: no state fields left
    assert (await queue.client.queue_stats("q")).ready_by_priority == (1, 0, 0, 0, 0, 4, 0, 0, 0, 1)


async def test_an_old_record_keeps_its_priority_through_a_requeue(queue: Queue) -> None:
    (task_id,) = await store_as_dtq_0_1(queue, [8])
    await queue.scripts.run(calls.upgrade_ready(queue.keys, 100))
    (claimed,) = (await queue.claim()).tasks
    assert decode_spec(claimed.spec or b"").payload == {"n": 0, "priority": 0}
    await queue.lapse(task_id)  # its priority is read from the old record, after its id
    assert (await queue.client.queue_stats("q")).ready_by_priority[8] == 1


async def test_the_scheduler_moves_every_old_queue_when_it_first_sees_it(queue: Queue, settings: Settings) -> None:
    old = await store_as_dtq_0_1(queue, [5] * 3)
    await queue.client.store.register_queues(["q"])
    scheduler = Scheduler(settings, store=queue.client.store)
    await scheduler.sweep()
    assert await queue.queued() == old
    assert [t.id for t in (await queue.claim()).tasks] == old
