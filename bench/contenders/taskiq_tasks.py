"""taskiq worker-side module: the broker, the no-op task and the producer (taskiq's venv)."""

from __future__ import annotations

import asyncio

from taskiq_redis import RedisStreamBroker

from bench.probe import queue_url, task_done

# RedisStreamBroker is taskiq-redis's reliable broker: consumer groups with XACK after the
# task, and XAUTOCLAIM of a dead worker's messages. ListQueueBroker (BRPOP) is faster but loses
# every message a dying worker had popped, so it is not comparable to the others here.
broker = RedisStreamBroker(url=queue_url(), queue_name="bench", xread_count=100)

# taskiq has no bulk kick; concurrent kiq() calls are its fastest producer path.
_IN_FLIGHT = 100


@broker.task(task_name="noop")
async def noop(sent_at: float) -> None:
    task_done(sent_at)


class _Producer:
    async def bulk(self, n: int) -> None:
        sem = asyncio.Semaphore(_IN_FLIGHT)

        async def send() -> None:
            async with sem:
                await noop.kiq(0.0)

        await asyncio.gather(*(send() for _ in range(n)))

    async def one(self, sent_at: float) -> None:
        await noop.kiq(sent_at)

    async def close(self) -> None:
        await broker.shutdown()


async def open_producer() -> _Producer:
    await broker.startup()
    return _Producer()
