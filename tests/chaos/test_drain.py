"""Scenario 2: SIGTERM a worker under load (as Kubernetes does on scale-down), again and again.

Pass: the worker claims nothing after the signal, exits 0 within the grace period, and the
drains cause no loss and no second execution (the tasks are shorter than the grace period, so
each one in flight finishes).
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.cluster import Cluster, Proc, Spec, wait_for
from tests.chaos.load import Producer
from tests.chaos.oracle import Ledger, Verdict, read_events, spread
from tests.chaos.scenario import Form, forms, mixed_sleep, settle_run

SHORT = Form("short", tasks=1200, faults=3, extra={"rate": 120})
FULL = Form("full", tasks=6000, faults=10, extra={"rate": 120})
GRACE = 10.0
SIGNAL_LATENCY_MS = 250  # a claim already on its way when the signal lands may still complete
EXIT_SLACK = 3.0  # closing connections and the process itself, after the grace period


def body(ref: str) -> dict[str, Any]:
    task = mixed_sleep(ref)
    task["payload"]["claim_time"] = True
    return task


async def busiest_worker(cluster: Cluster) -> Proc:
    """The live worker with the most tasks in flight, by its last heartbeat."""
    assert cluster.client is not None
    pids = {p.pid: p for p in cluster.live_workers()}
    infos = [w for w in await cluster.client.workers() if w.pid in pids]
    return pids[max(infos, key=lambda w: w.in_flight).pid] if infos else next(iter(pids.values()))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("form", forms(SHORT, FULL))
async def test_sigterm_drain_under_load(form: Form, tmp_path: Path) -> None:
    verdict = Verdict("2-sigterm-drain", form.name)
    spec = Spec(workers=3, concurrency=4, env={"WORKER_SHUTDOWN_GRACE": str(GRACE)})
    ledger = Ledger()
    drains: list[tuple[Proc, int, float]] = []  # worker, Redis ms just before the signal, seconds to exit
    async with Cluster(tmp_path, spec) as cluster:
        producer = Producer(cluster.http, ledger, rate=form.rate, body=body)
        producing = asyncio.create_task(producer.run(form.tasks))
        for _ in range(form.faults):
            await asyncio.sleep(1.5)
            victim = await busiest_worker(cluster)
            signalled_ms = await cluster.redis_time_ms()
            began = time.monotonic()
            victim.expected_end = True
            victim.signal(signal.SIGTERM)
            try:
                took = await wait_for(lambda v=victim: not v.alive(), GRACE + EXIT_SLACK + 5, "the drained worker")
            except TimeoutError:
                took = time.monotonic() - began
            drains.append((victim, signalled_ms, took))
            cluster.start_worker()
        await producing
        acc = await settle_run(cluster, ledger, verdict, drain_timeout=120, extra_bound=0)
        events = read_events(cluster.oracle)  # type: ignore[arg-type]
        unknown_claims = sum(1 for e in events if e.kind == "start" and e.claimed is None)
        late_claims, finished_while_draining = [], 0
        for victim, signalled_ms, _ in drains:
            mine = [e for e in events if e.pid == victim.pid]
            late_claims += [
                e.claimed - signalled_ms for e in mine if e.kind == "start" and (e.claimed or 0) > signalled_ms
            ]
            finished_while_draining += sum(1 for e in mine if e.kind == "finish" and e.t > signalled_ms)
    exits = [took for _, _, took in drains]
    codes = [victim.process.returncode for victim, _, _ in drains]
    verdict.facts.update(
        drains=len(drains),
        grace_s=GRACE,
        finished_while_draining=finished_while_draining,
        exit_s=spread(exits),
        exit_codes=codes,
        claims_after_signal_ms=sorted(late_claims),
    )
    verdict.check("acknowledged", acc.acknowledged == form.tasks, acc.acknowledged, form.tasks)
    verdict.check("claim time of every start known", unknown_claims == 0, unknown_claims, 0)
    verdict.check("claims after the signal", all(ms <= SIGNAL_LATENCY_MS for ms in late_claims),
                  max(late_claims, default=0), f"none later than {SIGNAL_LATENCY_MS} ms after it")  # fmt: skip
    verdict.check("exit within grace", max(exits) <= GRACE + EXIT_SLACK, max(exits), f"<= {GRACE} + {EXIT_SLACK}s")
    verdict.check("exit codes", set(codes) == {0}, codes, "all 0")
    verdict.settle()
