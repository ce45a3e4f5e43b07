"""Scenario 7: delayed tasks under two schedulers, one with its clock 30 s fast, one killed halfway.

Tasks due over a span, plus tasks due 3 x the lease ahead (the Celery visibility-timeout case).
Pass: each task runs exactly once (one attempt), none is claimed before its due time by Redis's
clock, and lateness (claim time - due time, both Redis's) has p99 <= poll interval + 1 s; the same
two bounds hold by the producer's and the handler's clocks, which dtq does not write.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.chaos.cluster import Cluster, Spec, require_faketime
from tests.chaos.oracle import Ledger, Verdict, percentile, spread
from tests.chaos.scenario import Form, forms, settle_run

SHORT = Form("short", tasks=600, lease=3.0, extra={"span": 10.0, "long_eta": 50})
FULL = Form("full", tasks=5000, lease=5.0, extra={"span": 60.0, "long_eta": 200})
POLL = 1.0
SKEW = "+30s"
CHUNK = 500
CLOCK_GRAIN = 0.002  # s: the handler stamps whole milliseconds


async def enqueue_scheduled(cluster: Cluster, ledger: Ledger, delays: dict[str, float]) -> None:
    """POST /tasks/bulk in chunks; each task keyed by its ref."""
    assert cluster.http is not None
    refs = list(delays)
    for start in range(0, len(refs), CHUNK):
        chunk = refs[start : start + CHUNK]
        body = [{"task": "chaos", "payload": {"ref": r}, "delay": delays[r], "key": r, "max_retries": 0} for r in chunk]
        for ref in chunk:
            ledger.invoke(ref)
        response = await cluster.http.post("/tasks/bulk", json=body)
        ids = response.json().get("ids", [None] * len(chunk)) if response.status_code == 200 else [None] * len(chunk)
        for ref, task_id in zip(chunk, ids, strict=True):
            ledger.record(ref, str(response.status_code), task_id)


def skew_applied(log: str) -> float | None:
    """Seconds the first log line's timestamp is ahead of this machine's clock."""
    first = log.splitlines()[0] if log else ""
    try:
        stamped = datetime.strptime(first[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    except ValueError:
        return None
    return stamped - time.time()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("form", forms(SHORT, FULL))
async def test_two_schedulers_one_skewed_one_killed(form: Form, tmp_path: Path) -> None:
    require_faketime()
    verdict = Verdict("7-scheduling-skew-failover", form.name)
    spec = Spec(workers=3, concurrency=4, schedulers=2, lease=form.lease, skewed_schedulers={1: SKEW})
    ledger = Ledger()
    delays = {f"d{n}": round(random.uniform(1.0, form.span), 3) for n in range(form.tasks)}
    delays |= {f"long{n}": 3 * form.lease for n in range(form.long_eta)}
    async with Cluster(tmp_path, spec) as cluster:
        skew = skew_applied(cluster.schedulers[1].log.read_text())
        await enqueue_scheduled(cluster, ledger, delays)
        await asyncio.sleep(form.span / 2)
        cluster.schedulers[0].kill()  # the one with the true clock; the skewed one carries on alone
        acc = await settle_run(cluster, ledger, verdict, drain_timeout=form.span + 60, extra_bound=0)
    lateness, early = [], []
    for task in acc.records.values():
        if task.started_at is None or task.scheduled_for is None:
            continue
        late = (task.started_at - task.scheduled_for).total_seconds()
        (early if late < 0 else lateness).append(late)
    # the same bounds by clocks dtq does not keep: the producer's (before the request, after its
    # answer) and the handler's; the task is due between invoked_at + delay and acked_at + delay
    early_outside, late_outside = [], []
    for ref, submission in ledger.submissions.items():
        first = min((e.t / 1000 for e in acc.starts.get(ref, [])), default=None)
        if first is None or submission.acked_at is None:
            continue
        if first < submission.invoked_at + delays[ref] - CLOCK_GRAIN:
            early_outside.append(ref)
        late_outside.append(first - (submission.acked_at + delays[ref]))
    p99_outside = percentile(late_outside, 99)
    attempts = [t.attempts for t in acc.records.values()]
    long_runs = [len(acc.starts.get(f"long{n}", [])) for n in range(form.long_eta)]
    p99 = percentile(lateness, 99)
    verdict.facts.update(
        scheduled=len(delays), skew_s=None if skew is None else round(skew, 1), lateness_s=spread(lateness),
        lateness_outside_s=spread(late_outside),
    )  # fmt: skip
    verdict.check("skew applied", skew is not None and skew > 25, skew, "the skewed scheduler logs ~30 s ahead")
    verdict.check("acknowledged", acc.acknowledged == len(delays), acc.acknowledged, len(delays))
    verdict.check("one attempt each", set(attempts) == {1}, sorted(set(attempts)), "{1}")
    verdict.check("claimed before due (Redis clock)", not early, len(early), 0)
    verdict.check("lateness p99", p99 is not None and p99 <= POLL + 1, p99, f"<= poll + 1 = {POLL + 1}s")
    verdict.check("started before due (producer's and handler's clocks)", not early_outside, len(early_outside), 0)
    verdict.check("started measured", len(late_outside) == len(delays), len(late_outside), len(delays))
    verdict.check("lateness p99 (producer's and handler's clocks)", p99_outside is not None and p99_outside <= POLL + 1,
                  p99_outside, f"<= poll + 1 = {POLL + 1}s")  # fmt: skip
    verdict.check("long-ETA tasks run once", set(long_runs) == {1}, sorted(set(long_runs)), "{1}")
    verdict.settle()
