"""RQ worker-side module: the no-op job function and the producer (runs in RQ's venv)."""

from __future__ import annotations

from redis import Redis
from rq import Queue

from bench.probe import queue_url, task_done

QUEUE = "bench"
# RQ's default result_ttl (500 s) is kept on purpose: result_ttl=0 makes the worker delete the
# job (registries, executions) after each run, which measured slower here than letting it expire.
_JOB_OPTIONS = {"failure_ttl": 60}


def noop(sent_at: float) -> None:
    task_done(sent_at)


class _Producer:
    def __init__(self) -> None:
        self._redis = Redis.from_url(queue_url())
        self._queue = Queue(QUEUE, connection=self._redis)

    async def bulk(self, n: int) -> None:
        # enqueue_many writes every job in one pipeline; chunks keep the pipeline's memory small.
        chunk = 1000
        for start in range(0, n, chunk):
            datas = [Queue.prepare_data(noop, args=(0.0,), **_JOB_OPTIONS) for _ in range(min(chunk, n - start))]
            self._queue.enqueue_many(datas)

    async def one(self, sent_at: float) -> None:
        self._queue.enqueue(noop, sent_at, **_JOB_OPTIONS)

    async def close(self) -> None:
        self._redis.close()


async def open_producer() -> _Producer:
    return _Producer()
