"""dtq on one Redis vs a Redis Cluster, and what replica acknowledgement (WAIT) costs.

    .venv/bin/python -m bench.scaling                  # full run (about 3 minutes)
    .venv/bin/python -m bench.scaling --tasks 4000     # quicker
    .venv/bin/python -m bench.scaling --out bench/results/scaling.md

Throughput: 4 queues, N tasks each enqueued with `enqueue_many` by 4 concurrent producers, then
drained by W `dtq worker` processes consuming all 4 queues (built-in `echo` handler, no work),
against (a) one redis-server and (b) a 3-primary + 3-replica Redis Cluster. Every server runs
without persistence (`--save "" --appendonly no`), so the figures compare topologies, not disks.

WAIT: single-task enqueues (one producer, then 32 concurrent ones) with DTQ_REDIS_WAIT_REPLICAS
0 and 1, on the cluster (one replica per primary) and on Sentinel (one primary, one replica).

Servers come from tests/support (the same builders the tests use), on free loopback ports; the
system Redis is never touched. Everything shares this machine's cores, Redis and dtq alike, so a
cluster's extra processes compete with the workers: read the figures on that background.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dtq.client import Client
from dtq.settings import Settings
from tests.support.redis_cluster import Cluster, SentinelGroup
from tests.support.redis_server import RedisServer

QUEUES = [f"q{n}" for n in range(4)]
NO_PERSISTENCE = ["--save", "", "--appendonly", "no"]
ROOT = Path(__file__).resolve().parents[1]


def settings(url: str, **redis: object) -> Settings:
    return Settings(redis={"url": url, "key_prefix": "bench", **redis})


async def enqueue_all(url: str, per_queue: int) -> float:
    """Enqueue `per_queue` tasks on each queue, one producer per queue; returns tasks/s."""
    async with Client(settings(url)) as client:

        async def fill(queue: str) -> None:
            for start in range(0, per_queue, 1000):
                count = min(1000, per_queue - start)
                await client.enqueue_many([client.request("echo", None, queue=queue) for _ in range(count)])

        began = time.perf_counter()
        await asyncio.gather(*(fill(q) for q in QUEUES))
        return per_queue * len(QUEUES) / (time.perf_counter() - began)


def start_workers(url: str, workers: int, concurrency: int, logs: Path) -> list[subprocess.Popen[bytes]]:
    """`workers` dtq worker processes consuming all queues."""
    env = {**os.environ, "DTQ_REDIS_URL": url, "DTQ_REDIS_KEY_PREFIX": "bench", "DTQ_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    dtq_bin = str(Path(sys.executable).parent / "dtq")
    procs = []
    for n in range(workers):
        log = (logs / f"worker-{n}.log").open("ab")
        env["DTQ_WORKER_HEALTH_FILE"] = str(logs / f"health-{n}")
        procs.append(subprocess.Popen(
            [dtq_bin, "worker", "--queues", ",".join(QUEUES), "--concurrency", str(concurrency)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
    return procs


async def all_succeeded(url: str, total: int) -> None:
    """Return once `total` tasks succeeded over the queues."""
    async with Client(settings(url)) as client:
        while True:
            if sum(s.succeeded for s in (await client.all_queue_stats(QUEUES)).values()) >= total:
                return
            await asyncio.sleep(0.05)


def drain(url: str, total: int, workers: int, concurrency: int, logs: Path) -> float:
    """Tasks/s from starting the workers until every task succeeded."""
    began = time.perf_counter()
    procs = start_workers(url, workers, concurrency, logs)
    try:
        asyncio.run(all_succeeded(url, total))
        return total / (time.perf_counter() - began)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def enqueue_latency(url: str, wait: int, count: int, concurrency: int) -> dict[str, float]:
    """Single-task enqueues from `concurrency` loops: rate and latency percentiles (ms)."""
    extra = {"wait_replicas": wait, "wait_timeout": 1.0} if wait else {}
    async with Client(settings(url, **extra)) as client:
        samples: list[float] = []

        async def loop(share: int) -> None:
            for n in range(share):
                began = time.perf_counter()
                await client.enqueue("echo", n, queue=QUEUES[n % len(QUEUES)])
                samples.append((time.perf_counter() - began) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(loop(count // concurrency) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    ordered = sorted(samples)
    return {"rate": len(samples) / elapsed, "p50": statistics.median(ordered),
            "p99": ordered[int(len(ordered) * 0.99) - 1]}  # fmt: skip


def throughput(name: str, url: str, args: argparse.Namespace, logs: Path) -> tuple[str, float, float]:
    per_queue = args.tasks // len(QUEUES)
    enq = asyncio.run(enqueue_all(url, per_queue))
    rate = drain(url, per_queue * len(QUEUES), args.workers, args.concurrency, logs)
    print(f"{name}: enqueue {enq:,.0f}/s, drain {rate:,.0f}/s", flush=True)
    return name, enq, rate


def waits(name: str, url: str, count: int) -> list[tuple[str, int, int, dict[str, float]]]:
    rows = []
    for wait in (0, 1):
        for concurrency in (1, 32):
            figures = asyncio.run(enqueue_latency(url, wait, count, concurrency))
            rows.append((name, wait, concurrency, figures))
            print(f"{name} WAIT {wait} x{concurrency}: {figures['rate']:,.0f}/s p50 {figures['p50']:.2f} ms "
                  f"p99 {figures['p99']:.2f} ms", flush=True)  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=40_000, help="tasks per throughput run (over 4 queues)")
    parser.add_argument("--workers", type=int, default=4, help="dtq worker processes")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrency of each worker")
    parser.add_argument("--wait-count", type=int, default=3200, help="single enqueues per WAIT measurement")
    parser.add_argument("--out", type=Path, help="also write the figures as Markdown here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dtq-scaling-"))
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, float, float]] = []
    wait_rows: list[tuple[str, int, int, dict[str, float]]] = []

    server = RedisServer(work / "single", extra=NO_PERSISTENCE).start()
    try:
        rows.append(throughput("one redis-server", server.url, args, work))
    finally:
        server.stop()
    cluster = Cluster(work / "cluster", extra=NO_PERSISTENCE).start()
    try:
        rows.append(throughput("cluster, 3 primaries + 3 replicas", cluster.url, args, work))
        wait_rows += waits("cluster", cluster.url, args.wait_count)
    finally:
        cluster.stop()
    group = SentinelGroup(work / "sentinel").start()
    try:
        wait_rows += waits("sentinel", group.url, args.wait_count)
    finally:
        group.stop()
    report = render(rows, wait_rows, args, (load_before, os.getloadavg()[0]))
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)


def render(rows: list[tuple[str, float, float]], wait_rows: list[tuple[str, int, int, dict[str, float]]],
           args: argparse.Namespace, load: tuple[float, float]) -> str:  # fmt: skip
    lines = [
        f"dtq scaling run, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load[0]:.1f} before and {load[1]:.1f} after (other work on the machine counts too)",
        "",
        f"Throughput: {args.tasks:,} tasks over 4 queues, {args.workers} workers x concurrency {args.concurrency}.",
        "",
        "| Redis | enqueue (tasks/s) | drain (tasks/s) |",
        "|---|---:|---:|",
        *(f"| {name} | {enq:,.0f} | {rate:,.0f} |" for name, enq, rate in rows),
        "",
        f"Replica acknowledgement: {args.wait_count:,} single-task enqueues.",
        "",
        "| Redis | DTQ_REDIS_WAIT_REPLICAS | producers | enqueues/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {name} | {wait} | {conc} | {f['rate']:,.0f} | {f['p50']:.2f} | {f['p99']:.2f} |"
              for name, wait, conc, f in wait_rows]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
