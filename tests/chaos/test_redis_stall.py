"""Scenario 5: redis-server frozen (SIGSTOP) for 2 s during enqueue and ack traffic, repeatedly.

Every dtq process runs with a 0.5 s socket timeout, shorter than the stall, so redis-py times
out and resends commands that Redis will still execute when it wakes: the ambiguous outcome.
Pass: no task is stored twice (the resent enqueue stores nothing), none is lost, and extra
executions <= stalls x C per worker. A quarter of the tasks have max_retries 0, so a run lost
to a resent claim would show up as a lost task, not be hidden by a retry.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest

from dtq.worker import OUTCOME_NOT_RECORDED
from tests.chaos.cluster import Cluster, Spec
from tests.chaos.load import Producer
from tests.chaos.oracle import Ledger, Verdict
from tests.chaos.scenario import Form, forms, mixed_sleep, settle_run

SHORT = Form("short", tasks=1000, faults=3, extra={"rate": 80})
FULL = Form("full", tasks=5000, faults=10, extra={"rate": 100})
STALL = 2.0


def body(ref: str) -> dict[str, Any]:
    task = mixed_sleep(ref)
    if random.random() < 0.25:
        task["max_retries"] = 0
    return task


@pytest.mark.timeout(600)
@pytest.mark.parametrize("form", forms(SHORT, FULL))
async def test_redis_stall_ambiguous_outcomes(form: Form, tmp_path: Path) -> None:
    verdict = Verdict("5-redis-stall", form.name)
    spec = Spec(workers=3, concurrency=4, env={"REDIS_SOCKET_TIMEOUT": "0.5"})
    ledger = Ledger()
    async with Cluster(tmp_path, spec) as cluster:
        producer = Producer(cluster.http, ledger, rate=form.rate, body=body)  # type: ignore[arg-type]
        producing = asyncio.create_task(producer.run(form.tasks))
        spacing = form.tasks / form.rate / (form.faults + 1)
        stalls = []
        for _ in range(form.faults):
            await asyncio.sleep(spacing * random.uniform(0.5, 1.0))
            began = time.monotonic()
            cluster.redis.pause()
            await asyncio.sleep(STALL)
            cluster.redis.resume()
            stalls.append(round(time.monotonic() - began, 2))
        await producing
        acc = await settle_run(cluster, ledger, verdict, drain_timeout=120,
                               extra_bound=form.faults * spec.workers * spec.concurrency)  # fmt: skip
        stored = await cluster.client.store.redis.hlen(cluster.client.store.keys("default").column("state"))  # type: ignore[union-attr]
        refused = cluster.log_count("worker", OUTCOME_NOT_RECORDED)
    distinct = len({i for s in ledger.submissions.values() for i in s.ids} | {e[0].id for e in acc.starts.values()})
    expired = sum(1 for r in acc.records.values() if r.error is not None and r.error.type == "LeaseExpired")
    verdict.facts.update(
        stalls_s=stalls, socket_timeout_s=0.5, tasks_stored=stored, outcomes_refused=refused, lease_expired=expired
    )
    verdict.check("tasks stored", stored == distinct, stored, f"{distinct} distinct ids answered or run")
    verdict.check("dead-lettered", not acc.dead, len(acc.dead), 0)
    verdict.settle()
