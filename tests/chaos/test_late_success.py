"""A success that arrives after its lease expired: the smallest reproduction of what scenario 6's
full form found once (task t3634 of a 14,000-task run: it ran and finished, yet ended dead).

A worker cut off from Redis for longer than its lease finishes a task; meanwhile a scheduler
(which can still reach Redis) finds the lease expired and counts the run as a failed attempt. For
a task with max_retries 0 that is the last attempt, so it goes to the dead-letter queue as
LeaseExpired. When the network heals, the worker reports the success. No other attempt ever
started, so the success must be kept: the task ends succeeded, having run once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dtq.task import TaskState
from tests.chaos.cluster import QUEUE, Cluster, Spec, wait_for
from tests.chaos.oracle import read_events


@pytest.mark.timeout(60)
async def test_a_success_reported_after_the_lease_expired_is_kept(tmp_path: Path) -> None:
    spec = Spec(workers=1, concurrency=1, schedulers=1, lease=1.0, proxy=True, direct_schedulers=True)
    async with Cluster(tmp_path, spec) as cluster:
        client, proxy, oracle = cluster.client, cluster.proxy, cluster.oracle
        assert client is not None and proxy is not None and oracle is not None
        task = await client.enqueue("chaos", {"ref": "late", "sleep": 0.5}, max_retries=0)
        await wait_for(lambda: any(e.kind == "start" for e in read_events(oracle)), 20, "the task to start")
        proxy.blackhole()  # the worker is cut off; the scheduler still sees Redis

        async def state_is(state: TaskState) -> bool:
            record = await client.get(task.id, QUEUE)
            return record is not None and record.state is state

        await wait_for(lambda: any(e.kind == "finish" for e in read_events(oracle)), 10, "the run to finish")
        await wait_for(lambda: state_is(TaskState.DEAD), 20, "the scheduler to dead-letter the lapsed lease")
        proxy.heal()
        await wait_for(lambda: state_is(TaskState.SUCCEEDED), 30, "the worker's late success to be kept")
        runs = [e for e in read_events(oracle) if e.kind == "finish"]
    assert len(runs) == 1  # it ran once, to the end
