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
        sem = asyncio.Semaphore(_IN_FLIGHT)

        async def send() -> None:
            async with sem:
                await self._pool.enqueue_job("noop", 0.0)

        await asyncio.gather(*(send() for _ in range(n)))

    async def one(self, sent_at: float) -> None:
        await self._pool.enqueue_job("noop", sent_at)

    async def close(self) -> None:
        await self._pool.aclose()


async def open_producer() -> _Producer:
    return _Producer(await create_pool(RedisSettings.from_dsn(queue_url())))
