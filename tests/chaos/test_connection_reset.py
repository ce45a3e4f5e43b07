"""Connections reset while idle: the smallest reproduction of a bug scenario 6 found (now fixed).

After the proxy resets every connection, each dtq process still holds pooled connections whose
transport is closed. Under uvloop, reusing one raised RuntimeError rather than a connection error:
the API answered 500, the scheduler exited and the worker stopped claiming. Every process must
carry on: the API answers 200 or 503 (never 500), the scheduler promotes, the worker runs tasks.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dtq.task import TaskState
from tests.chaos.cluster import QUEUE, Cluster, Spec, wait_for


@pytest.mark.timeout(90)
async def test_processes_survive_a_reset_of_their_idle_connections(tmp_path: Path) -> None:
    spec = Spec(workers=1, concurrency=2, schedulers=1, proxy=True)
    problems = []
    async with Cluster(tmp_path, spec) as cluster:
        assert cluster.client is not None and cluster.proxy is not None and cluster.http is not None
        for round_ in range(3):
            await asyncio.sleep(1.5)  # every process has used, and pooled, its connections
            cluster.proxy.reset_all()
            await asyncio.sleep(0.5)
            response = await cluster.http.post("/tasks", json={"task": "chaos", "payload": {"ref": f"api{round_}"}})
            if response.status_code not in (200, 503):
                problems.append(f"round {round_ + 1}: POST /tasks answered {response.status_code}")
            now = await cluster.client.enqueue("chaos", {"ref": f"now{round_}"})
            later = await cluster.client.enqueue("chaos", {"ref": f"later{round_}"}, delay=0.2)
            for what, task_id in (("a task (worker)", now.id), ("a delayed task (scheduler, worker)", later.id)):

                async def done(task_id: str = task_id) -> bool:
                    return (await cluster.client.get(task_id, QUEUE)).state is TaskState.SUCCEEDED  # type: ignore[union-attr]

                try:
                    await wait_for(done, 10, what)
                except TimeoutError:
                    problems.append(f"round {round_ + 1}: {what} did not run within 10 s")
        problems += cluster.unexpected_exits()
    assert not problems, "\n".join(problems)
