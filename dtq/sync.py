"""`SyncClient`: the `Client` API for code that is not asyncio.

It runs one private event loop in a daemon thread and forwards each call to an async
`Client` living on that loop, so both flavours share every line of logic; the common enqueue,
the one a producer makes in a loop, is sent from the caller's thread (`dtq.store.direct`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any, TypeVar, Unpack

from dtq.client import ENQUEUE_CHUNK, Client
from dtq.registry import TaskDefinition
from dtq.settings import Settings
from dtq.store.calls import CancelOutcome, Enqueued, QueueCounts
from dtq.store.deadletters import DeadPage
from dtq.store.direct import DirectEnqueue
from dtq.store.registry import WorkerInfo
from dtq.task import EnqueueOptions, Task, TaskRequest

T = TypeVar("T")


class SyncClient:
    """Blocking twin of `Client`; use `with SyncClient(settings) as client:`."""

    def __init__(self, settings: Settings) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dtq-sync-client", daemon=True)
        self._thread.start()
        self._client = self._call(_make_client(settings))
        self._direct = DirectEnqueue.of(settings, self._client.store, ENQUEUE_CHUNK)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __enter__(self) -> SyncClient:
        self.connect()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def connect(self) -> None:
        """See `Client.connect`."""
        self._call(self._client.connect())

    def close(self) -> None:
        """Close the client and stop its loop thread."""
        if self._direct is not None:
            self._direct.close()
        self._call(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def enqueue(
        self,
        task: str | TaskDefinition,
        payload: Any = None,
        **options: Unpack[EnqueueOptions],
    ) -> Enqueued:
        """See `Client.enqueue`."""
        return self.enqueue_many([self._client.request(task, payload, **options)])[0]

    def enqueue_many(self, requests: Sequence[TaskRequest]) -> list[Enqueued]:
        """See `Client.enqueue_many`. The common call (one queue, one script call) is sent from
        this thread (`dtq.store.direct`); the rest goes through the client's loop."""
        prepared = self._client.prepare(requests)
        reply = self._direct.enqueue(prepared) if self._direct is not None else None
        if reply is None:
            return self._call(self._client.enqueue_prepared(prepared))
        if reply.queue_was_retired:
            self._call(self._client.store.reinstate([prepared[0].queue]))
        return list(reply)

    def get(self, task_id: str, queue: str | None = None) -> Task:
        """See `Client.get`."""
        return self._call(self._client.get(task_id, queue))

    def cancel(self, task_id: str, queue: str | None = None) -> CancelOutcome:
        """See `Client.cancel`."""
        return self._call(self._client.cancel(task_id, queue))

    def queues(self) -> list[str]:
        """See `Client.queues`."""
        return self._call(self._client.queues())

    def queue_stats(self, queue: str) -> QueueCounts:
        """See `Client.queue_stats`."""
        return self._call(self._client.queue_stats(queue))

    def all_queue_stats(self) -> dict[str, QueueCounts]:
        """See `Client.all_queue_stats`."""
        return self._call(self._client.all_queue_stats())

    def pause(self, queue: str) -> None:
        """See `Client.pause`."""
        self._call(self._client.pause(queue))

    def resume(self, queue: str) -> None:
        """See `Client.resume`."""
        self._call(self._client.resume(queue))

    def workers(self) -> list[WorkerInfo]:
        """See `Client.workers`."""
        return self._call(self._client.workers())

    def dead(self, queue: str, *, task: str | None = None, limit: int = 50, cursor: str | None = None) -> DeadPage:
        """See `Client.dead`."""
        return self._call(self._client.dead(queue, task=task, limit=limit, cursor=cursor))

    def redrive(self, queue: str, *, ids: Sequence[str] | None = None, task: str | None = None) -> int:
        """See `Client.redrive`."""
        return self._call(self._client.redrive(queue, ids=ids, task=task))

    def purge_dead(self, queue: str, *, ids: Sequence[str] | None = None, task: str | None = None) -> int:
        """See `Client.purge_dead`."""
        return self._call(self._client.purge_dead(queue, ids=ids, task=task))


async def _make_client(settings: Settings) -> Client:
    # Built on the loop thread so its connection pool belongs to that loop.
    return Client(settings)
