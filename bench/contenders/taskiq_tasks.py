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
        # _IN_FLIGHT senders sharing the count, not n tasks behind a semaphore: a million pending
        # tasks took the producer gigabytes and most of its time (the memory workload's 1,000,000).
        left = [n]

        async def sender() -> None:
            while left[0] > 0:
                left[0] -= 1
                await noop.kiq(0.0)

        await asyncio.gather(*(sender() for _ in range(min(_IN_FLIGHT, n))))

    async def one(self, sent_at: float) -> None:
        await noop.kiq(sent_at)

    async def close(self) -> None:
        await broker.shutdown()


async def open_producer() -> _Producer:
    await broker.startup()
    return _Producer()
