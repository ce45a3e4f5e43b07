"""A claim whose reply is lost: the smallest reproduction of a bug scenario 5 found (now fixed).

Redis runs the claim (the task becomes active under the worker's lease token) but the reply never
reaches the worker. Before the fix the worker never ran the task; when the lease expired the lost
run counted as an attempt, so a task with max_retries 0 went to the dead-letter queue as
LeaseExpired without ever having started: an acknowledged task lost. redis-py's own resend of a
timed-out claim stranded tasks the same way. Now a repeated claim token gets the same batch back,
and takes back what lapsed meanwhile if nobody claimed it since.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dtq.task import TaskState
from tests.chaos.cluster import QUEUE, Cluster, Spec, wait_for
from tests.chaos.oracle import read_events


@pytest.mark.timeout(60)
async def test_a_claim_whose_reply_is_lost_still_runs_its_task(tmp_path: Path) -> None:
    spec = Spec(workers=1, concurrency=1, schedulers=1, lease=1.0, proxy=True, env={"REDIS_SOCKET_TIMEOUT": "0.5"})
    async with Cluster(tmp_path, spec) as cluster:
        assert cluster.client is not None and cluster.proxy is not None
        cluster.proxy.drop_replies()
        task = await cluster.client.enqueue("chaos", {"ref": "only"}, max_retries=0)

        async def claimed() -> bool:
            return (await cluster.client.get(task.id, QUEUE)).state is not TaskState.QUEUED  # type: ignore[union-attr]

        await wait_for(claimed, 20, "the worker to claim the task")
        cluster.proxy.heal()

        async def final() -> bool:
            return (await cluster.client.get(task.id, QUEUE)).state in (TaskState.SUCCEEDED, TaskState.DEAD)  # type: ignore[union-attr]

        await wait_for(final, 30, "the task to finish")
        record = await cluster.client.get(task.id, QUEUE)
        starts = [e for e in read_events(cluster.oracle) if e.kind == "start"]  # type: ignore[arg-type]
    assert (record.state, record.error) == (TaskState.SUCCEEDED, None), (record.state, record.error, len(starts))
    assert len(starts) == 1


@pytest.mark.timeout(60)
async def test_a_claim_whose_reply_is_held_past_the_lease_still_runs_its_task(tmp_path: Path) -> None:
    """What scenario 6's full form found (task t10199): the claim's reply reaches the worker only
    after the lease expired, by which time the scheduler had counted the lapse as the only attempt
    of a max_retries 0 task and dead-lettered it. The worker's resent claim takes it back."""
    spec = Spec(workers=1, concurrency=1, schedulers=1, lease=1.0, proxy=True, direct_schedulers=True)
    async with Cluster(tmp_path, spec) as cluster:
        client, proxy, oracle = cluster.client, cluster.proxy, cluster.oracle
        assert client is not None and proxy is not None and oracle is not None
        proxy.drop_replies()  # the worker's claim runs, its reply is lost; the scheduler sees Redis
        task = await client.enqueue("chaos", {"ref": "held"}, max_retries=0)

        async def state_is(*states: TaskState) -> bool:
            record = await client.get(task.id, QUEUE)
            return record is not None and record.state in states

        await wait_for(lambda: state_is(TaskState.ACTIVE), 20, "the worker to claim the task")
        await wait_for(lambda: state_is(TaskState.DEAD), 20, "the scheduler to dead-letter the lapsed lease")
        proxy.heal()
        await wait_for(lambda: state_is(TaskState.SUCCEEDED), 30, "the resent claim to take the task back and run it")
        record = await client.get(task.id, QUEUE)
        starts = [e for e in read_events(oracle) if e.kind == "start"]
    assert record.error is None
    assert len(starts) == 1
