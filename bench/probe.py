"""Worker-side completion counter and latency recorder, shared by every contender.

Runs inside the contenders' own virtualenvs, so it needs only the standard library and the
synchronous ``redis`` client that every contender already depends on.

A task calls :func:`task_done` and returns. Counting happens in process memory and a daemon
thread adds the count to a Redis counter every few milliseconds: one Redis round trip per task
would cap a Python process near 10,000 tasks/s and the harness would measure itself, not the
queue. The counter lives on a separate *probe* Redis server so that the queue server's command
and CPU statistics contain only the contender's own traffic.
"""

from __future__ import annotations

import functools
import os
import threading
import time

import redis

DONE_KEY = "bench:done"
LATENCY_KEY = "bench:latency_ms"
PROBE_URL_ENV = "BENCH_PROBE_URL"
QUEUE_URL_ENV = "BENCH_QUEUE_URL"
# RQ's forking Worker runs each task in a child that exits with os._exit(), so a background
# thread there would die with its unflushed count; that contender writes through instead.
DIRECT_ENV = "BENCH_PROBE_DIRECT"
FLUSH_INTERVAL_S = 0.005


class _Probe:
    """Per-process accumulator with a lazily started flusher thread."""

    def __init__(self, url: str, direct: bool) -> None:
        self._url = url
        self._direct = direct
        self._lock = threading.Lock()
        self._done = 0
        self._samples: list[str] = []
        self._pid = -1
        self._client: redis.Redis | None = None

    def record(self, sent_at: float) -> None:
        started = time.time()
        if self._direct:
            self._write_through(started, sent_at)
            return
        if self._pid != os.getpid():
            self._start_flusher()
        with self._lock:
            self._done += 1
            if sent_at > 0:
                self._samples.append(repr((started - sent_at) * 1000.0))

    def _write_through(self, started: float, sent_at: float) -> None:
        client = redis.Redis.from_url(self._url)
        pipe = client.pipeline(transaction=False)
        if sent_at > 0:
            pipe.rpush(LATENCY_KEY, repr((started - sent_at) * 1000.0))
        pipe.incrby(DONE_KEY, 1)
        pipe.execute()
        client.close()

    def _start_flusher(self) -> None:
        # Checked by pid because prefork pools (Celery, Huey) may import this module in a parent
        # and run tasks in children, where the parent's thread does not exist.
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._done = 0
            self._samples = []
            self._client = redis.Redis.from_url(self._url)
        thread = threading.Thread(target=self._flush_forever, name="bench-probe", daemon=True)
        thread.start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL_S)
            self._flush_once()

    def _flush_once(self) -> None:
        with self._lock:
            done, self._done = self._done, 0
            samples, self._samples = self._samples, []
        if not done or self._client is None:
            return
        pipe = self._client.pipeline(transaction=False)
        if samples:
            pipe.rpush(LATENCY_KEY, *samples)
        pipe.incrby(DONE_KEY, done)
        pipe.execute()


@functools.cache
def _probe() -> _Probe:
    # Built on first use, not at import: the harness imports this module for its key names.
    return _Probe(os.environ[PROBE_URL_ENV], os.environ.get(DIRECT_ENV) == "1")


def task_done(sent_at: float) -> None:
    """Record one completed task; ``sent_at`` is the producer's ``time.time()`` or 0 for none."""
    _probe().record(sent_at)


def queue_url() -> str:
    """The private queue server's URL, as given to every contender process by the harness."""
    return os.environ[QUEUE_URL_ENV]
