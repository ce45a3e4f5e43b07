"""Scenario 4: a worker frozen (SIGSTOP) past its lease while holding tasks, then thawed.

Pass: its tasks are re-leased and finished by others; when it wakes, its late outcomes are
refused (the worker logs each refusal), so Redis counts every task succeeded exactly once; extra
executions <= pauses x C.
"""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path
from typing import Any

import pytest

from dtq.events import totals_field
from dtq.task import TaskState
from dtq.worker import OUTCOME_NOT_RECORDED
from tests.chaos.cluster import QUEUE, Cluster, Proc, Spec, wait_for
from tests.chaos.load import Producer
from tests.chaos.oracle import Ledger, Verdict
from tests.chaos.scenario import Form, forms, settle_run

SHORT = Form("short", tasks=600, faults=3, lease=2.0, extra={"rate": 30, "past_lease": 1.0})
FULL = Form("full", tasks=6000, faults=20, lease=5.0, extra={"rate": 40, "past_lease": 3.0})


def body(ref: str) -> dict[str, Any]:
    """100-300 ms of work, so a frozen worker is always holding something."""
    return {"task": "chaos", "payload": {"ref": ref, "sleep": round(random.uniform(0.1, 0.3), 3)}}


async def busiest_worker(cluster: Cluster) -> tuple[Proc, str | None]:
    """A live worker and its worker id, preferring the busiest by heartbeat."""
    assert cluster.client is not None
    pids = {p.pid: p for p in cluster.live_workers()}
    infos = sorted((w for w in await cluster.client.workers() if w.pid in pids), key=lambda w: -w.in_flight)
    return (pids[infos[0].pid], infos[0].id) if infos else (next(iter(pids.values())), None)


async def held_by(cluster: Cluster, worker_id: str | None) -> int:
    """Tasks `worker_id` holds right now, read from Redis (a frozen worker's stay put)."""
    assert cluster.client is not None
    active = await cluster.client.tasks(QUEUE, TaskState.ACTIVE, limit=1000)
    return sum(1 for t in active.tasks if worker_id is not None and t.worker == worker_id)


def refusals(proc: Proc) -> int:
    return proc.log.read_text(errors="replace").count(OUTCOME_NOT_RECORDED)


async def logged_refusal(proc: Proc, before: int, timeout: float) -> bool:
    """Whether `proc` logs a refusal beyond its first `before` within `timeout` seconds."""
    try:
        await wait_for(lambda: refusals(proc) > before, timeout, "the thawed worker's refusal")
    except TimeoutError:
        return False
    return True


@pytest.mark.timeout(900)
@pytest.mark.parametrize("form", forms(SHORT, FULL))
async def test_frozen_worker_is_fenced(form: Form, tmp_path: Path) -> None:
    verdict = Verdict("4-frozen-worker-fencing", form.name)
    spec = Spec(workers=3, concurrency=4, lease=form.lease)
    ledger = Ledger()
    pauses: list[int] = []
    unrefused = 0
    async with Cluster(tmp_path, spec) as cluster:
        assert cluster.client is not None
        producer = Producer(cluster.http, ledger, rate=form.rate, body=body)  # type: ignore[arg-type]
        producing = asyncio.create_task(producer.run(form.tasks))
        for _ in range(form.faults):
            await asyncio.sleep(1.0)
            victim, worker_id = await busiest_worker(cluster)
            victim.signal(signal.SIGSTOP)
            in_flight = await held_by(cluster, worker_id)
            await asyncio.sleep(form.lease + form.past_lease)
            before = refusals(victim)
            victim.signal(signal.SIGCONT)
            pauses.append(in_flight)
            if in_flight:  # its late outcomes must be refused: wait for the victim to say so
                unrefused += not await logged_refusal(victim, before, timeout=form.lease * 2 + 10)
        await producing
        acc = await settle_run(cluster, ledger, verdict, drain_timeout=120, extra_bound=form.faults * spec.concurrency)
        refused = cluster.log_count("worker", OUTCOME_NOT_RECORDED)
        totals = await cluster.client.store.redis.hget(
            cluster.client.store.keys(QUEUE).totals, totals_field("succeeded", "chaos")
        )
    counted = int(totals or 0)
    verdict.facts.update(pauses=len(pauses), in_flight_at_pause=pauses, lease_s=form.lease,
                         frozen_s=form.lease + form.past_lease, outcomes_refused=refused, unrefused=unrefused,
                         succeeded_counted=counted)  # fmt: skip
    verdict.check("acknowledged", acc.acknowledged == form.tasks, acc.acknowledged, form.tasks)
    holding = sum(1 for n in pauses if n)
    verdict.check("a pause holding tasks happened", holding >= 1, holding, ">= 1")
    verdict.check("every pause holding tasks saw its late outcome refused", unrefused == 0, unrefused, 0)
    verdict.check("late outcomes refused", refused >= holding, refused, f">= {holding} (pauses holding tasks)")
    verdict.check("each task counted succeeded once", counted == acc.succeeded == acc.acknowledged, counted,
                  f"{acc.succeeded} succeeded records")  # fmt: skip
    verdict.settle()
