"""Where dtq's pickup latency goes: the pickup workload (workload 2) split into its hops.

    .venv/bin/python -m bench.pickup_hops                 # 2,000 tasks at 200/s, about 15 s
    .venv/bin/python -m bench.pickup_hops --tasks 4000 --rate 400

One `dtq worker` process (its own interpreter, uvloop, concurrency 100) against a private
redis-server; this process enqueues one task at a time at a fixed rate, as workload 2 does. The
worker is the real one with two methods wrapped to stamp wall-clock times: when the "ready"
notification arrives, and when a claim is sent and answered. Per task the hops are then

    enqueue call      the producer's `Client.enqueue()` round trip (the task is stored inside it)
    to notified       from just before that call until the worker read the notification
    to claim sent     the worker's claim loop waking up and sending its claim
    claim round trip  the claim script's round trip, reply parsed
    to handler        from the claim's reply to the handler's first line

plus two reference round trips of a bare redis-py asyncio client to the same server: PING back
to back (a busy process), and PING paced at the same rate (each one wakes an idle process and an
idle server, which is what every hop above pays).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import uvloop

import dtq
from bench.redis_server import PrivateRedis
from bench.stats import percentile
from dtq.worker import Worker

HOPS = ("enqueue call", "to notified", "to claim sent", "claim round trip", "to handler", "pickup (total)")


def worker_role(marks_path: str, tasks: int) -> None:
    """Run a dtq worker with its notification and claim stamped; write the stamps when done."""
    marks: dict[str, list[Any]] = {"notified": [], "claim_sent": [], "claim_back": [], "started": []}
    app = dtq.App(builtins=True)

    @app.task(name="stamp")
    async def stamp(payload: dict[str, float]) -> None:
        marks["started"].append((payload["sent_at"], time.time()))
        if len(marks["started"]) >= tasks:
            await asyncio.to_thread(Path(marks_path).write_text, json.dumps(marks))
            os._exit(0)

    notified, claim = Worker._on_notification, Worker._claim

    def on_notification(self: Worker, channel: str, data: str) -> None:
        marks["notified"].append(time.time())
        notified(self, channel, data)

    async def stamped_claim(self: Worker, queue: str, count: int, *, park: bool = True) -> tuple[int, int]:
        marks["claim_sent"].append(time.time())
        claimed, left = await claim(self, queue, count, park=park)
        if claimed:
            marks["claim_back"].append(time.time())
        return claimed, left

    Worker._on_notification = on_notification  # type: ignore[method-assign]
    Worker._claim = stamped_claim  # type: ignore[method-assign]
    uvloop.run(Worker(app, dtq.Settings.from_env(), queues=["default"], concurrency=100).run())


async def produce(tasks: int, rate: float) -> list[tuple[float, float]]:
    """Enqueue one task at a time on absolute deadlines; (sent, returned) wall times per task."""
    stamps = []
    async with dtq.Client(dtq.Settings.from_env()) as client:
        begin = time.monotonic() + 0.5
        for i in range(tasks):
            await asyncio.sleep(max(0.0, begin + i / rate - time.monotonic()))
            sent = time.time()
            await client.enqueue("stamp", payload={"sent_at": sent})
            stamps.append((sent, time.time()))
    return stamps


async def ping_reference(url: str, rate: float, count: int = 1000) -> tuple[list[float], list[float]]:
    client = aioredis.Redis.from_url(url)
    try:
        back_to_back, paced = [], []
        for _ in range(count):
            began = time.perf_counter()
            await client.ping()
            back_to_back.append(time.perf_counter() - began)
        for _ in range(count):
            await asyncio.sleep(1 / rate)
            began = time.perf_counter()
            await client.ping()
            paced.append(time.perf_counter() - began)
        return back_to_back, paced
    finally:
        await client.aclose()


def split(marks: dict[str, list[Any]], stamps: list[tuple[float, float]], warmup: int) -> dict[str, list[float]]:
    """Per task, the seconds of each hop: each stamp is matched with the first one after it."""
    notified, sent, back = sorted(marks["notified"]), sorted(marks["claim_sent"]), sorted(marks["claim_back"])
    returned = dict(stamps)
    hops: dict[str, list[float]] = {name: [] for name in HOPS}
    for sent_at, started in sorted(marks["started"])[warmup:]:
        heard = notified[bisect.bisect_left(notified, sent_at)]
        asked = sent[bisect.bisect_left(sent, heard)]
        answered = back[bisect.bisect_left(back, asked)]
        spans = (returned[sent_at] - sent_at, heard - sent_at, asked - heard, answered - asked, started - answered)
        for name, span in zip(HOPS, (*spans, started - sent_at), strict=True):
            hops[name].append(span)
    return hops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--role", choices=["worker"], help=argparse.SUPPRESS)
    parser.add_argument("--marks", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "worker":
        worker_role(args.marks, args.tasks)
        return
    with tempfile.TemporaryDirectory() as scratch, PrivateRedis(Path(scratch) / "redis") as server:
        # The producer here and the worker (which inherits the environment) both read these.
        os.environ.update(DTQ_REDIS_URL=server.url, DTQ_LOG_LEVEL="WARNING")
        marks_path = Path(scratch) / "marks.json"
        worker = subprocess.Popen(
            [sys.executable, "-m", "bench.pickup_hops", "--role", "worker", "--marks", str(marks_path),
             "--tasks", str(args.tasks)]
        )  # fmt: skip
        try:
            stamps = asyncio.run(produce(args.tasks, args.rate))
            worker.wait(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
        hops = split(json.loads(marks_path.read_text()), stamps, warmup=min(20, args.tasks // 10))
        back_to_back, paced = asyncio.run(ping_reference(server.url, args.rate))
    print(f"{args.tasks:,} tasks at {args.rate:g}/s, one worker; milliseconds")
    print(f"{'hop':<34}{'p50':>8}{'p99':>8}")
    rows = [
        *hops.items(),
        ("reference: PING back to back", back_to_back),
        (f"reference: PING at {args.rate:g}/s", paced),
    ]
    for name, values in rows:
        print(f"{name:<34}{percentile(values, 50) * 1000:>8.3f}{percentile(values, 99) * 1000:>8.3f}")


if __name__ == "__main__":
    main()
