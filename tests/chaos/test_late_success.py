"""A success that arrives after its lease expired: the smallest reproduction of what scenario 6's
full form found once (task t3634 of a 14,000-task run: it ran and finished, yet ended dead).

A worker cut off from Redis for longer than its lease finishes a task; meanwhile a scheduler
(which can still reach Redis) finds the lease expired and counts the run as a failed attempt. For
a task with max_retries 0 that is the last attempt, so it goes to the dead-letter queue as
LeaseExpired. When the network heals, the worker's success is refused because the lease is gone,
although no other attempt ever started: a task that succeeded is recorded dead.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dtq.task import TaskState
from tests.chaos.cluster import QUEUE, Cluster, Spec, wait_for
from tests.chaos.oracle import read_events
from tests.chaos.scenario import LATE_SUCCESS_BUG


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=LATE_SUCCESS_BUG)
@pytest.mark.timeout(60)
async def test_a_success_reported_after_the_lease_expired_is_kept(tmp_path: Path) -> None:
    spec = Spec(workers=1, concurrency=1, schedulers=1, lease=1.0, proxy=True, direct_schedulers=True)
    async with Cluster(tmp_path, spec) as cluster:
        assert cluster.client is not None and cluster.proxy is not None and cluster.oracle is not None
        task = await cluster.client.enqueue("chaos", {"ref": "late", "sleep": 0.5}, max_retries=0)
        await wait_for(lambda: any(e.kind == "start" for e in read_events(cluster.oracle)), 20, "the task to start")
        cluster.proxy.blackhole()  # the worker is cut off; the scheduler still sees Redis
        await wait_for(lambda: any(e.kind == "finish" for e in read_events(cluster.oracle)), 10, "the run to finish")
        await asyncio.sleep(spec.lease + 2)  # the lease runs out while the worker cannot report
        cluster.proxy.heal()

        async def settled() -> bool:
            return (await cluster.client.get(task.id, QUEUE)).state in (TaskState.SUCCEEDED, TaskState.DEAD)  # type: ignore[union-attr]

        await wait_for(settled, 30, "the task to settle")
        await asyncio.sleep(2)  # the worker's late outcome arrives after the heal
        record = await cluster.client.get(task.id, QUEUE)
        runs = [e for e in read_events(cluster.oracle) if e.kind == "finish"]
    assert len(runs) == 1  # it ran once, to the end
    assert record.state is TaskState.SUCCEEDED, (record.state, record.error)
