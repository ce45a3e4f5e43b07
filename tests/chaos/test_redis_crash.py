"""Scenario 3: redis-server SIGKILLed under load and started again on the same data (AOF everysec).

Pass: no acknowledged task is lost (a process crash loses nothing Redis answered for); while
Redis is down the API answers 503 with Retry-After, never 500 and never hangs up; after the
restart every dtq process is connected again within 5 s, and a delayed task enqueued then is
promoted and run (API, scheduler and worker all working).
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.chaos.cluster import Cluster, Proc, Spec, wait_for
from tests.chaos.load import Producer
from tests.chaos.oracle import Ledger, Verdict, read_events, spread
from tests.chaos.scenario import Form, forms, mixed_sleep, settle_run

SHORT = Form("short", tasks=1200, faults=2, extra={"rate": 100})
FULL = Form("full", tasks=20_000, faults=3, extra={"rate": 150})
RECONNECT_BOUND = 5.0


def body(ref: str) -> dict[str, Any]:
    """Mixed work; one task in five delayed 0.3 s, so the scheduler has work across the crashes."""
    task = mixed_sleep(ref)
    if random.random() < 0.2:
        task["delay"] = 0.3
    return task


def connected(proc: Proc, port: int) -> bool:
    """Whether the process has an established TCP connection to `port`."""
    try:
        conns = psutil.Process(proc.pid).net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED for c in conns)


async def outage(cluster: Cluster, number: int) -> dict[str, Any]:
    """Kill Redis, probe the API while it is down, restart it, and time each reconnection."""
    assert cluster.http is not None
    await asyncio.to_thread(cluster.redis.kill)
    began = time.monotonic()
    probe = await cluster.http.post("/tasks", json={"task": "chaos", "payload": {"ref": f"down{number}"}})
    down = {"status": probe.status_code, "retry_after": probe.headers.get("retry-after"),
            "code": probe.json().get("error", {}).get("code") if probe.status_code != 200 else None,
            "answered_s": round(time.monotonic() - began, 2)}  # fmt: skip
    await asyncio.to_thread(cluster.redis.start)
    up = time.monotonic()
    procs = [p for p in cluster.procs if p.alive()]
    reconnect: dict[str, float | None] = {}
    for proc in procs:
        try:
            await wait_for(
                lambda p=proc: connected(p, cluster.redis.port), RECONNECT_BOUND * 3, f"{proc.role} {proc.pid}"
            )
            reconnect[f"{proc.role}-{proc.pid}"] = round(time.monotonic() - up, 2)
        except TimeoutError:
            reconnect[f"{proc.role}-{proc.pid}"] = None
    return {"probe": down, "outage_s": round(up - began, 2), "reconnect_s": reconnect}


async def delayed_round_trip(cluster: Cluster, ref: str, ledger: Ledger) -> float | None:
    """Enqueue a task due in 0.5 s and time until it starts (scheduler + worker at work)."""
    assert cluster.http is not None and cluster.oracle is not None
    ledger.invoke(ref)
    began = time.time()
    response = await cluster.http.post(
        "/tasks", json={"task": "chaos", "payload": {"ref": ref}, "delay": 0.5, "key": ref}
    )
    ledger.record(ref, str(response.status_code), response.json().get("id"))

    def started() -> bool:
        return any(e.ref == ref for e in read_events(cluster.oracle))  # type: ignore[arg-type]

    try:
        await wait_for(started, 20, f"delayed task {ref}", step=0.1)
    except TimeoutError:
        return None
    first = min(e.t for e in read_events(cluster.oracle) if e.ref == ref)
    return first / 1000 - began - 0.5


@pytest.mark.timeout(900)
@pytest.mark.parametrize("form", forms(SHORT, FULL))
async def test_redis_sigkill_and_restart(form: Form, tmp_path: Path) -> None:
    verdict = Verdict("3-redis-crash-restart", form.name)
    spec = Spec(workers=3, concurrency=4)
    ledger = Ledger()
    outages: list[dict[str, Any]] = []
    async with Cluster(tmp_path, spec) as cluster:
        producer = Producer(cluster.http, ledger, rate=form.rate, body=body)  # type: ignore[arg-type]
        producing = asyncio.create_task(producer.run(form.tasks))
        spacing = form.tasks / form.rate / (form.faults + 1)
        for number in range(form.faults):
            await asyncio.sleep(spacing * random.uniform(0.7, 1.0))
            record = await outage(cluster, number)
            record["delayed_task_late_s"] = await delayed_round_trip(cluster, f"probe{number}", ledger)
            outages.append(record)
        await producing
        bound = form.faults * spec.workers * spec.concurrency
        await settle_run(cluster, ledger, verdict, drain_timeout=120, extra_bound=bound)
    reconnects = [s for o in outages for s in o["reconnect_s"].values()]
    statuses = [o["probe"]["status"] for o in outages]
    verdict.facts.update(outages=outages, reconnect_s=spread([s for s in reconnects if s is not None]))
    answered = all(o["probe"]["status"] == 503 and o["probe"]["retry_after"] for o in outages)
    verdict.check("API during the outage", answered, statuses, "503 with Retry-After")
    worst = max((s if s is not None else float("inf")) for s in reconnects)
    verdict.check("reconnected after restart", worst <= RECONNECT_BOUND, worst, f"<= {RECONNECT_BOUND}s each")
    lates = [o["delayed_task_late_s"] for o in outages]
    verdict.check("delayed task after restart", all(x is not None and x <= RECONNECT_BOUND for x in lates), lates,
                  f"runs <= {RECONNECT_BOUND}s after due")  # fmt: skip
    verdict.settle()
