"""Scenario 10, the soak (`make soak`): 100 tasks/s for 10 minutes, a worker SIGKILLed every minute.

Pass: after a 2-minute warm-up the RSS of every long-lived process grows < 1 MB/min and its open
file descriptors stay flat; once the queue drains and retention has passed, Redis holds the same
keys as at the baseline (per-minute stats keys aside: they expire on their own TTL) and about the
same memory; nothing acknowledged is lost. One worker is never killed, so a worker is measured
over the whole run. CHAOS_SOAK_SECONDS shortens the load phase for a trial run.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.chaos.cluster import Cluster, Spec
from tests.chaos.load import Producer
from tests.chaos.oracle import Ledger, Verdict, percentile
from tests.chaos.scenario import drain, mixed_sleep, settle_run

RATE = 100
SECONDS = float(os.environ.get("CHAOS_SOAK_SECONDS", "600"))
WARM_UP = min(120.0, SECONDS / 5)
KILL_EVERY = 60.0
SAMPLE_EVERY = 5.0
RETENTION = 30
RSS_SLOPE_MB_PER_MIN = 1.0
FD_DRIFT = 10
MEMORY_DRIFT = 0.05


def slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) samples, per minute."""
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    return 0.0 if spread == 0 else 60 * sum((t - mean_t) * (v - mean_v) for t, v in samples) / spread


async def redis_footprint(cluster: Cluster) -> dict[str, Any]:
    """Keys and used memory. Per-minute stats keys (they expire by TTL) and the registry entries
    of live workers (a replacement worker has a new id) are left out of the keys."""
    assert cluster.client is not None
    live = {cluster.client.store.global_keys.worker(w.id) for w in await cluster.client.workers()}
    keys = sorted([k.decode() async for k in cluster.client.store.redis.scan_iter(count=1000)])
    memory = await cluster.client.store.redis.info("memory")
    kept = [k for k in keys if ":stats:" not in k and k not in live]
    return {"keys": kept, "used_memory": memory["used_memory"], "dataset": memory["used_memory_dataset"]}


def sample(procs: dict[str, int], samples: dict[str, list[tuple[float, float, int]]], began: float) -> None:
    """RSS (MB) and open fds of each named pid."""
    for name, pid in procs.items():
        try:
            info = psutil.Process(pid)
            rss, fds = info.memory_info().rss / 1e6, info.num_fds()
        except psutil.Error:
            continue
        samples.setdefault(name, []).append((time.monotonic() - began, rss, fds))


async def warm_up_and_baseline(cluster: Cluster, ledger: Ledger) -> dict[str, Any]:
    """Run a few tasks so every long-lived key exists, let retention clear them, then measure."""
    assert cluster.http is not None
    await Producer(cluster.http, ledger, body=mixed_sleep, name="w").run(200)
    await drain(cluster, 60)
    await asyncio.sleep(RETENTION + 5)
    return await redis_footprint(cluster)


@pytest.mark.soak
@pytest.mark.timeout(int(SECONDS) + 900)
async def test_soak(tmp_path: Path) -> None:
    verdict = Verdict("10-soak", f"{int(SECONDS)}s")
    env = {"RETENTION_FINISHED": str(RETENTION), "RETENTION_IDEMPOTENCY": str(RETENTION),
           "SCHEDULER_JANITOR_INTERVAL": "2"}  # fmt: skip
    spec = Spec(workers=3, concurrency=4, env=env)
    ledger = Ledger()
    samples: dict[str, list[tuple[float, float, int]]] = {}
    latencies: list[tuple[float, float]] = []
    kills = 0
    async with Cluster(tmp_path, spec) as cluster:
        assert cluster.http is not None
        baseline = await warm_up_and_baseline(cluster, ledger)
        sentinel = cluster.workers[0]
        producer = Producer(cluster.http, ledger, rate=RATE, body=mixed_sleep, latencies=latencies)
        began = time.monotonic()
        producing = asyncio.create_task(producer.run(int(RATE * SECONDS)))
        next_kill = began + KILL_EVERY
        while not producing.done():
            await asyncio.sleep(SAMPLE_EVERY)
            long_lived = {f"{p.role}-{p.pid}": p.pid for p in cluster.procs
                          if p.alive() and (p.role != "worker" or p is sentinel)}  # fmt: skip
            assert cluster.redis.process is not None
            long_lived["redis-server"] = cluster.redis.process.pid
            sample(long_lived, samples, began)
            if time.monotonic() >= next_kill:
                victims = [p for p in cluster.live_workers() if p is not sentinel]
                random.choice(victims).kill()
                cluster.start_worker()
                kills += 1
                next_kill += KILL_EVERY
        await producing
        acc = await settle_run(cluster, ledger, verdict, drain_timeout=120, extra_bound=kills * spec.concurrency)
        await asyncio.sleep(RETENTION + 5)
        final = await redis_footprint(cluster)
    slopes = {}
    fd_drift = {}
    for name, points in samples.items():
        after = [(t, rss, fds) for t, rss, fds in points if t >= WARM_UP]
        if len(after) >= 6:
            slopes[name] = round(slope_per_minute([(t, rss) for t, rss, _ in after]), 3)
            fd_drift[name] = max(f for *_, f in after) - min(f for *_, f in after)
    first = [s for t, s in latencies if t < 60]
    last = [s for t, s in latencies if t >= SECONDS - 60]
    leaked = sorted(set(final["keys"]) - set(baseline["keys"]))
    memory_ratio = final["used_memory"] / baseline["used_memory"]
    verdict.facts.update(
        rate=RATE, seconds=SECONDS, kills=kills, rss_slope_mb_per_min=slopes, fd_drift=fd_drift,
        enqueue_p99_first_minute_s=percentile(first, 99), enqueue_p99_last_minute_s=percentile(last, 99),
        baseline_keys=len(baseline["keys"]), final_keys=len(final["keys"]),
        used_memory_baseline=baseline["used_memory"], used_memory_final=final["used_memory"],
        dataset_memory_baseline=baseline["dataset"], dataset_memory_final=final["dataset"],
    )  # fmt: skip
    verdict.check("acknowledged", acc.acknowledged == len(ledger.submissions), acc.acknowledged, "all")
    flat = bool(slopes) and all(s < RSS_SLOPE_MB_PER_MIN for s in slopes.values())
    worst = max(slopes.values(), default=None)
    verdict.check("RSS slope after warm-up", flat, worst, f"< {RSS_SLOPE_MB_PER_MIN} MB/min, each of {len(slopes)}")
    verdict.check("open fds flat", all(d <= FD_DRIFT for d in fd_drift.values()), max(fd_drift.values(), default=0),
                  f"drift <= {FD_DRIFT}")  # fmt: skip
    verdict.check("Redis keys back to baseline", not leaked, leaked[:10], "no key that was not there before")
    verdict.check("Redis memory back to baseline", abs(memory_ratio - 1) <= MEMORY_DRIFT, round(memory_ratio, 3),
                  f"within +/- {MEMORY_DRIFT:.0%}")  # fmt: skip
    verdict.settle()
