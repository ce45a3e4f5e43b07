"""Celery worker-side module: the app, the no-op task and the producer (runs in Celery's venv)."""

from __future__ import annotations

from celery import Celery

from bench.probe import queue_url, task_done

QUEUE = "bench"

app = Celery("bench", broker=queue_url())
app.conf.update(
    task_default_queue=QUEUE,
    # No result backend: a no-op benchmark has nothing to store, and storing is extra writes.
    task_ignore_result=True,
    task_store_errors_even_if_ignored=False,
    # Early ack (Celery's default) and a deep prefetch: for sub-millisecond tasks the solo pool
    # is otherwise idle while it waits for the next delivery round trip.
    task_acks_late=False,
    worker_prefetch_multiplier=128,
    worker_disable_rate_limits=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
)


@app.task(name="noop")
def noop(sent_at: float) -> None:
    task_done(sent_at)


class _Producer:
    async def bulk(self, n: int) -> None:
        # One shared producer (connection + channel) for the whole batch; the Redis transport
        # has no multi-message publish, so this is Celery's fastest path.
        with app.producer_or_acquire() as producer:
            for _ in range(n):
                noop.apply_async((0.0,), producer=producer)

    async def one(self, sent_at: float) -> None:
        noop.apply_async((sent_at,))

    async def close(self) -> None:
        app.close()


async def open_producer() -> _Producer:
    return _Producer()
