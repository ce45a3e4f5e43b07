"""extend.lua: 1 = renewed, 2 = renewed and cancel requested, 0 = lease lost."""

from __future__ import annotations

from dtq.store import calls
from dtq.store.calls import Lease, LeaseVerdict
from tests.redis.scripts.conftest import Queue


async def test_renews_held_leases(queue: Queue) -> None:
    (task_id,) = await queue.add()
    batch = await queue.claim(token="mine", lease_ms=1000)
    verdicts = await queue.scripts.run(calls.extend(queue.keys, [Lease(task_id, "mine")], 60_000))
    assert verdicts == [LeaseVerdict.RENEWED]
    expiry = await queue.client.store.redis.zscore(queue.keys.active, task_id)
    assert expiry is not None and expiry - batch.now_ms >= 60_000


async def test_reports_a_cancel_request(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="mine")
    await queue.scripts.run(calls.cancel(queue.keys, task_id))
    verdicts = await queue.scripts.run(calls.extend(queue.keys, [Lease(task_id, "mine")], 60_000))
    assert verdicts == [LeaseVerdict.CANCEL_REQUESTED]


async def test_a_lost_lease_is_not_renewed(queue: Queue) -> None:
    held, other = await queue.add(2)
    await queue.claim(token="new")
    verdicts = await queue.scripts.run(calls.extend(queue.keys, [Lease(held, "old"), Lease(other, "new")], 60_000))
    assert verdicts == [LeaseVerdict.LOST, LeaseVerdict.RENEWED]
