"""Huey worker-side module: the RedisHuey instance, the no-op task and the producer (Huey's venv)."""

from __future__ import annotations

from huey import RedisHuey

from bench.probe import queue_url, task_done

# results=False: no result store writes for a no-op. blocking=True (the default) makes idle
# workers wait in BRPOP instead of polling with back-off, which is what keeps pickup fast.
huey = RedisHuey("bench", url=queue_url(), results=False, blocking=True)


@huey.task(name="noop")
def noop(sent_at: float) -> None:
    task_done(sent_at)


class _Producer:
    async def bulk(self, n: int) -> None:
        # Huey has no multi-task enqueue; each call is one LPUSH.
        for _ in range(n):
            noop(0.0)

    async def one(self, sent_at: float) -> None:
        noop(sent_at)

    async def close(self) -> None:
        huey.storage.conn.close()


async def open_producer() -> _Producer:
    return _Producer()
