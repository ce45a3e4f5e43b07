"""Scenario 8: tasks that always fail, tasks that kill their worker, and a redrive of the dead.

1. Failing tasks (max_retries 4): each is attempted exactly 5 times, the gap before attempt n+1
   lies within the backoff's jitter bounds [low(n), high(n) + poll + slack], and it ends dead
   once with its last error.
2. Poison tasks (max_retries 2) SIGKILL the worker that runs them; a supervisor (the test, as
   Kubernetes would) restarts workers. Each ends dead as LeaseExpired after exactly 3 crashes,
   while ordinary tasks sent meanwhile all succeed; restarts <= 3 x poison + slack.
3. The oracle's `healed` flag is set and every dead task is redriven: each runs exactly once more,
   and succeeds.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from dtq.backoff import Backoff
from dtq.task import TaskState
from tests.chaos.cluster import QUEUE, Cluster, Spec
from tests.chaos.handlers import HEALED
from tests.chaos.load import Producer
from tests.chaos.oracle import Ledger, Verdict, account, read_events, spread
from tests.chaos.scenario import Form, drain, forms, settle_run, small_sleep

SHORT = Form("short", tasks=200, extra={"poison": 4, "normal": 200})
FULL = Form("full", tasks=1000, extra={"poison": 50, "normal": 1000})
BACKOFF = Backoff(base=0.2, factor=2.0, max=5.0, jitter=0.2)
RETRIES, POISON_RETRIES = 4, 2
POLL, SLACK = 1.0, 1.0


def failing(ref: str) -> dict[str, object]:
    return {"task": "chaos", "payload": {"ref": ref, "fail": True}, "max_retries": RETRIES}


def poison(ref: str) -> dict[str, object]:
    return {"task": "chaos", "payload": {"ref": ref, "poison": True}, "max_retries": POISON_RETRIES}


async def supervise(cluster: Cluster, stop: asyncio.Event, restarts: list[int]) -> None:
    """Replace every worker that died (as a Deployment would), until `stop`."""
    while not stop.is_set():
        for proc in [p for p in cluster.procs if p.role == "worker" and not p.alive() and not p.expected_end]:
            proc.expected_end = True  # a poison task killed it: expected here, and counted
            restarts.append(proc.pid)
            cluster.start_worker()
        await asyncio.sleep(0.1)


def gap_problems(starts: list[float]) -> list[str]:
    """Gaps between consecutive attempts (ms timestamps) outside the backoff bounds."""
    problems = []
    for attempt, (before, after) in enumerate(itertools.pairwise(starts), start=1):
        low, high = BACKOFF.bounds(attempt)
        gap = (after - before) / 1000
        if not low <= gap <= high + POLL + SLACK:
            problems.append(f"after attempt {attempt}: {gap:.3f}s not in [{low:.3f}, {high + POLL + SLACK:.3f}]")
    return problems


@pytest.mark.timeout(900)
@pytest.mark.parametrize("form", forms(SHORT, FULL))
async def test_retries_poison_and_redrive(form: Form, tmp_path: Path) -> None:
    verdict = Verdict("8-retries-poison-redrive", form.name)
    env = {"TASKS_BACKOFF_BASE": "0.2", "TASKS_BACKOFF_FACTOR": "2", "TASKS_BACKOFF_MAX": "5",
           "TASKS_BACKOFF_JITTER": "0.2"}  # fmt: skip
    spec = Spec(workers=3, concurrency=4, env=env)
    ledger = Ledger()
    restarts: list[int] = []
    async with Cluster(tmp_path, spec) as cluster:
        assert cluster.client is not None and cluster.http is not None and cluster.oracle is not None
        # 1. always failing
        await Producer(cluster.http, ledger, body=failing, name="f").run(form.tasks)
        await drain(cluster, 120)
        # 2. poison, with ordinary work alongside, under a supervisor
        stop = asyncio.Event()
        supervisor = asyncio.create_task(supervise(cluster, stop, restarts))
        await Producer(cluster.http, ledger, body=poison, name="p").run(form.poison)
        await Producer(cluster.http, ledger, rate=50, body=small_sleep, name="n").run(form.normal)
        await drain(cluster, 60 + form.poison * 6)
        dead_before = await cluster.client.queue_stats(QUEUE)
        first = await account(ledger, read_events(cluster.oracle), cluster.client)
        # 3. heal and redrive
        cluster.oracle.set(HEALED, 1)
        redriven = await cluster.client.redrive(QUEUE)
        acc = await settle_run(cluster, ledger, verdict, drain_timeout=120, extra_bound=None)
        stop.set()
        await supervisor
    fails = {r: sorted(e.t for e in v) for r, v in first.starts.items() if r.startswith("f")}
    poisons = {r: len(v) for r, v in first.starts.items() if r.startswith("p")}
    poisons |= {r: 0 for r in ledger.submissions if r.startswith("p") and r not in poisons}
    poison_before = [first.records[i] for r in poisons for i in first.ids_of[r]]
    dead_records = [first.records[i] for ids in (first.ids_of[r] for r in fails) for i in ids]
    gaps = [p for s in fails.values() for p in gap_problems(s)]
    poison_records = [acc.records[i] for r in poisons for i in acc.ids_of[r]]
    after = {r: len(acc.starts.get(r, [])) - len(first.starts.get(r, [])) for r in (*fails, *poisons)}
    normal_ok = all(r in acc.finishes for r in ledger.submissions if r.startswith("n"))
    gap_list = [(b - a) / 1000 for s in fails.values() for a, b in itertools.pairwise(s)]
    verdict.facts.update(failing=len(fails), poison=len(poisons), restarts=len(restarts), redriven=redriven,
                         dead_before_redrive=dead_before.dead, retry_gaps_s=spread(gap_list))  # fmt: skip
    verdict.check("failing: 5 attempts each", {len(s) for s in fails.values()} == {RETRIES + 1},
                  sorted({len(s) for s in fails.values()}), RETRIES + 1)  # fmt: skip
    verdict.check("failing: dead with its last error", all(
        r.state is TaskState.DEAD and r.error is not None and r.error.type == "RuntimeError"
        and f"attempt {RETRIES + 1}" in r.error.message for r in dead_records), len(dead_records), "all")  # fmt: skip
    verdict.check("backoff gaps within jitter bounds", not gaps, gaps[:5], "none outside")
    crashes = sorted({r.attempts for r in poison_before})
    verdict.check("poison: dead after 3 attempts", crashes == [POISON_RETRIES + 1], crashes, POISON_RETRIES + 1)
    most, fewest = max(poisons.values()), min(poisons.values())
    verdict.check("poison: each started", fewest >= 1, fewest, ">= 1 (a poison never started proves nothing)")
    verdict.check("poison: started at most 3 times", most <= POISON_RETRIES + 1, most, f"<= {POISON_RETRIES + 1}")
    lease_expired = all(r.state is TaskState.DEAD and r.error is not None and r.error.type == "LeaseExpired"
                        for r in poison_before)  # fmt: skip
    verdict.check("poison: dead as LeaseExpired", lease_expired, len(poison_before), "all")
    verdict.check("dead before redrive", dead_before.dead == len(fails) + len(poisons), dead_before.dead,
                  len(fails) + len(poisons))  # fmt: skip
    verdict.check("worker restarts", len(restarts) <= (POISON_RETRIES + 1) * len(poisons) + 3, len(restarts),
                  f"<= 3 x {len(poisons)} + 3")  # fmt: skip
    verdict.check("ordinary tasks all ran", normal_ok, normal_ok, True)
    verdict.check("redrive: all dead requeued", redriven == len(fails) + len(poisons), redriven,
                  len(fails) + len(poisons))  # fmt: skip
    verdict.check("redrive: each runs once more", set(after.values()) == {1}, sorted(set(after.values())), "{1}")
    verdict.check("after redrive: all succeeded", all(r.state is TaskState.SUCCEEDED for r in poison_records)
                  and not acc.dead, len(acc.dead), "0 dead")  # fmt: skip
    verdict.settle()
