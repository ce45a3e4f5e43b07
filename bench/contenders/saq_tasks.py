"""SAQ worker-side module: settings, the no-op job and the producer (runs in SAQ's venv)."""

from __future__ import annotations

import asyncio
from typing import Any

from redis import asyncio as aioredis
from saq.queue.redis import RedisQueue

from bench.probe import queue_url, task_done

# SAQ has no bulk enqueue (Queue.map waits for results); concurrent enqueue() calls are its
# fastest producer path.
_IN_FLIGHT = 100
# ttl=-1 deletes the job hash on completion instead of keeping the result for 600 s.
_JOB_OPTIONS: dict[str, Any] = {"ttl": -1, "timeout": 0}


async def noop(_ctx: dict[str, Any], *, sent_at: float) -> None:
    task_done(sent_at)


# 50 slots per process: 20, 50 and 100 drained within noise of each other here, and every slot
# holds its own connection.
_CONCURRENCY = 50


def _queue() -> RedisQueue:
    # Every concurrency slot holds a connection in BLMOVE while idle, and redis-py's default
    # async pool stops at 100 connections; leave room for enqueues, pub/sub and upkeep.
    return RedisQueue(aioredis.from_url(queue_url(), max_connections=_CONCURRENCY + 50), name="bench")


queue = _queue()

settings = {
    "queue": queue,
    "functions": [noop],
    # Each concurrency slot is one BLMOVE consumer; many keep the round trips overlapped.
    "concurrency": _CONCURRENCY,
}


class _Producer:
    def __init__(self, q: RedisQueue) -> None:
        self._queue = q

    async def bulk(self, n: int) -> None:
        # _IN_FLIGHT senders sharing the count, not n tasks behind a semaphore: a million pending
        # tasks took the producer gigabytes and most of its time (the memory workload's 1,000,000).
        left = [n]

        async def sender() -> None:
            while left[0] > 0:
                left[0] -= 1
                await self._queue.enqueue("noop", sent_at=0.0, **_JOB_OPTIONS)

        await asyncio.gather(*(sender() for _ in range(min(_IN_FLIGHT, n))))

    async def one(self, sent_at: float) -> None:
        await self._queue.enqueue("noop", sent_at=sent_at, **_JOB_OPTIONS)

    async def close(self) -> None:
        await self._queue.disconnect()


async def open_producer() -> _Producer:
    q = _queue()
    await q.connect()
    return _Producer(q)
