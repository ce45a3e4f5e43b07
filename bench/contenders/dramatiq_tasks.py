"""Dramatiq worker-side module: the broker, the no-op actor and the producer (Dramatiq's venv)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.probe import queue_url, task_done

QUEUE = "bench"

# Default middleware kept (age limit, time limit, retries, ...): that is what users run and
# dropping it changes delivery semantics, not just speed.
broker = RedisBroker(url=queue_url())
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name="noop", queue_name=QUEUE, max_retries=0)
def noop(sent_at: float) -> None:
    task_done(sent_at)


class _Producer:
    async def bulk(self, n: int) -> None:
        # Dramatiq has no multi-message enqueue; send() is one Lua dispatch per message.
        for _ in range(n):
            noop.send(0.0)

    async def one(self, sent_at: float) -> None:
        noop.send(sent_at)

    async def close(self) -> None:
        broker.close()


async def open_producer() -> _Producer:
    return _Producer()
