"""Scenario 1: workers SIGKILLed every 2 s under load, each replaced at once.

Pass: lost 0, unexpected 0, extra executions <= kills x C, and every task a killed worker was
running starts again elsewhere within lease + scheduler poll + 2 s of the kill.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from tests.chaos.cluster import Cluster, Spec
from tests.chaos.load import Producer
from tests.chaos.oracle import Event, Ledger, Verdict, spread
from tests.chaos.scenario import Form, forms, mixed_sleep, settle_run

SHORT = Form("short", tasks=2500, lease=3.0, extra={"rate": 250, "kill_every": 2.0})
FULL = Form("full", tasks=20_000, lease=5.0, extra={"rate": None, "kill_every": 2.0})
POLL = 1.0


def restart_delays(kills: list[tuple[int, float]], starts: dict[str, list[Event]]) -> list[float]:
    """Per task a killed worker had started: seconds from the kill to its next start elsewhere."""
    delays = []
    for pid, killed_at in kills:
        for events in starts.values():
            if not any(e.pid == pid and e.t <= killed_at * 1000 for e in events):
                continue
            later = [e.t for e in events if e.pid != pid and e.t > killed_at * 1000]
            if later:
                delays.append((min(later) / 1000) - killed_at)
    return delays


@pytest.mark.timeout(600)
@pytest.mark.parametrize("form", forms(SHORT, FULL))
async def test_worker_sigkill_churn(form: Form, tmp_path: Path) -> None:
    verdict = Verdict("1-worker-sigkill-churn", form.name)
    spec = Spec(workers=3, concurrency=4, lease=form.lease)
    ledger = Ledger()
    kills: list[tuple[int, float]] = []
    async with Cluster(tmp_path, spec) as cluster:
        producer = Producer(cluster.http, ledger, concurrency=8, rate=form.rate, body=mixed_sleep)  # type: ignore[arg-type]
        began = time.monotonic()
        producing = asyncio.create_task(producer.run(form.tasks))
        producing.add_done_callback(lambda _: verdict.facts.update(produce_s=round(time.monotonic() - began, 1)))
        while not producing.done() or await cluster.pending() > 0:
            await asyncio.sleep(form.kill_every)
            victim = random.choice(cluster.live_workers())
            victim.kill()
            assert victim.ended is not None
            kills.append((victim.pid, victim.ended))
            cluster.start_worker()
        await producing
        acc = await settle_run(cluster, ledger, verdict, drain_timeout=120, extra_bound=len(kills) * spec.concurrency)
        delays = restart_delays(kills, acc.starts)
    bound = form.lease + POLL + 2
    verdict.facts.update(kills=len(kills), concurrency=spec.concurrency, lease_s=form.lease,
                         restart_delay_s=spread(delays))  # fmt: skip
    verdict.check("acknowledged", acc.acknowledged == form.tasks, acc.acknowledged, form.tasks)
    verdict.check("a kill caught a task in flight", bool(delays), len(delays), ">= 1 restart measured")
    verdict.check("restart delay after a kill (max)", bool(delays) and max(delays) <= bound, max(delays, default=None),
                  f"<= lease + poll + 2 = {bound}s")  # fmt: skip
    verdict.check("dead-lettered", not acc.dead, len(acc.dead), 0)
    verdict.settle()
