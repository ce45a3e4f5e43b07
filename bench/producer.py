"""Contender-side producer entrypoint, run inside a contender's virtualenv.

    python -m bench.producer MODULE bulk N
    python -m bench.producer MODULE paced RATE SECONDS
    python -m bench.producer MODULE scheduled RATE SECONDS LEAD   (contenders with ``schedule()``)

MODULE is a contender's worker-side module (``bench.contenders.<name>_tasks``); it exposes
``async def open_producer() -> Producer``. One JSON line with the timings goes to stdout; the
harness reads it. Interpreter start-up, imports and connecting are outside the timed part.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, cast


class Producer(Protocol):
    """What every contender's worker-side module hands the harness to enqueue with."""

    async def bulk(self, n: int) -> None:
        """Enqueue ``n`` drain tasks (no timestamp) with the library's fastest bulk path."""

    async def one(self, sent_at: float) -> None:
        """Enqueue one task carrying ``sent_at`` with the library's single-task call."""

    async def close(self) -> None:
        """Release connections."""


class Scheduling(Producer, Protocol):
    """A producer that can also enqueue tasks to run at given times."""

    async def schedule(self, due: Sequence[float]) -> None:
        """Enqueue one task per ``time.time()`` value in ``due``, to start then, carrying it."""


async def _bulk(producer: Producer, n: int) -> dict[str, float]:
    started = time.perf_counter()
    await producer.bulk(n)
    return {"n": n, "seconds": time.perf_counter() - started}


async def _paced(producer: Producer, rate: float, seconds: float) -> dict[str, float]:
    # Absolute deadlines (start + i/rate) so that slow enqueues do not accumulate as drift.
    count = int(rate * seconds)
    started = time.perf_counter()
    worst_late = 0.0
    for i in range(count):
        deadline = started + i / rate
        delay = deadline - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        worst_late = max(worst_late, time.perf_counter() - deadline)
        await producer.one(time.time())
    elapsed = time.perf_counter() - started
    return {"n": count, "seconds": elapsed, "worst_late_ms": worst_late * 1000.0}


async def _scheduled(producer: Producer, rate: float, seconds: float, lead: float) -> dict[str, float]:
    # Due times on whole milliseconds (the resolution queues store) from LEAD seconds ahead,
    # one every 1/RATE s; they must all be stored before the first one falls due.
    if not hasattr(producer, "schedule"):
        raise SystemExit("this contender's producer has no schedule()")
    count = int(rate * seconds)
    first_ms = math.ceil((time.time() + lead) * 1000.0)
    due = [(first_ms + round(i * 1000.0 / rate)) / 1000.0 for i in range(count)]
    started = time.perf_counter()
    await cast(Scheduling, producer).schedule(due)
    return {"n": count, "seconds": time.perf_counter() - started, "first_due_in_s": due[0] - time.time()}


async def _main(argv: list[str]) -> dict[str, float]:
    module = importlib.import_module(argv[0])
    opener = cast(Callable[[], Awaitable[Producer]], module.open_producer)
    producer = await opener()
    try:
        if argv[1] == "bulk":
            return await _bulk(producer, int(argv[2]))
        if argv[1] == "paced":
            return await _paced(producer, float(argv[2]), float(argv[3]))
        if argv[1] == "scheduled":
            return await _scheduled(producer, float(argv[2]), float(argv[3]), float(argv[4]))
        raise SystemExit(f"unknown mode {argv[1]!r}")
    finally:
        await producer.close()


def main() -> None:
    result = _main(sys.argv[1:])
    print(json.dumps(asyncio.run(result)), flush=True)


if __name__ == "__main__":
    main()
