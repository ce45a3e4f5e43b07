"""Coalescing concurrent enqueues into one round trip.

The first request is sent at once; requests that arrive while it is in flight are sent
together when it returns. Under load this turns N concurrent POSTs into a handful of script
calls, and when idle it adds no delay at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from dtq.client import Client
from dtq.store.calls import Enqueued
from dtq.task import PreparedTask


class EnqueueBatcher:
    """Stores prepared tasks for many concurrent requests with as few calls as possible."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._waiting: list[tuple[Sequence[PreparedTask], asyncio.Future[list[Enqueued]]]] = []
        self._flushing = False

    async def store(self, tasks: Sequence[PreparedTask]) -> list[Enqueued]:
        """Store `tasks` (possibly together with other requests'); returns their outcomes."""
        future: asyncio.Future[list[Enqueued]] = asyncio.get_running_loop().create_future()
        self._waiting.append((tasks, future))
        if not self._flushing:
            self._flushing = True
            asyncio.create_task(self._flush())  # noqa: RUF006 - it completes every waiting future itself
        return await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._send(batch)
        finally:
            self._flushing = False

    async def _send(self, batch: list[tuple[Sequence[PreparedTask], asyncio.Future[list[Enqueued]]]]) -> None:
        try:
            outcomes = await self.client.enqueue_prepared([task for tasks, _ in batch for task in tasks])
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for tasks, future in batch:
            if not future.done():
                future.set_result(outcomes[start : start + len(tasks)])
            start += len(tasks)
