"""arq worker-side module: WorkerSettings, the no-op job and the producer (runs in arq's venv)."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from bench.probe import queue_url, task_done

# arq has no bulk enqueue; its fastest path is enqueue_job calls kept in flight concurrently.
_IN_FLIGHT = 100


async def noop(_ctx: dict[str, Any], sent_at: float) -> None:
    task_done(sent_at)


class WorkerSettings:
    functions: ClassVar[list[Any]] = [noop]
    redis_settings = RedisSettings.from_dsn(queue_url())
    # arq polls a sorted set (it has no blocking pop): 10 ms between polls bounds pickup
    # latency without spinning; each poll reads up to queue_read_limit job ids.
    poll_delay = 0.01
    max_jobs = 100
    queue_read_limit = 500
    keep_result = 0
    handle_signals = True
    allow_abort_jobs = False


class _Producer:
    def __init__(self, pool: ArqRedis) -> None:
        self._pool = pool

    async def bulk(self, n: int) -> None:
        # _IN_FLIGHT senders sharing the count, not n tasks behind a semaphore: a million pending
        # tasks took the producer gigabytes and most of its time (the memory workload's 1,000,000).
        left = [n]

        async def sender() -> None:
            while left[0] > 0:
                left[0] -= 1
                await self._pool.enqueue_job("noop", 0.0)

        await asyncio.gather(*(sender() for _ in range(min(_IN_FLIGHT, n))))

    async def one(self, sent_at: float) -> None:
        await self._pool.enqueue_job("noop", sent_at)

    async def close(self) -> None:
        await self._pool.aclose()


async def open_producer() -> _Producer:
    return _Producer(await create_pool(RedisSettings.from_dsn(queue_url())))
