"""What a handler may learn about the task it runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass(slots=True, eq=False)
class TaskContext:
    """Passed to handlers that declare a `ctx` parameter.

    `token` is the lease token of this attempt: it changes whenever the task is claimed again,
    so a handler can use it as a fencing token for its own external writes.
    """

    id: str
    task: str
    queue: str
    attempt: int
    max_retries: int
    timeout: float
    token: str
    worker_id: str
    _cancel_requested: bool = field(default=False, repr=False)
    _cancel_event: asyncio.Event | None = field(default=None, repr=False)  # made only when awaited
    _lease_lost: bool = field(default=False, repr=False)

    @property
    def cancel_requested(self) -> bool:
        """Someone asked to cancel this task; stop soon (raising ends it as cancelled)."""
        return self._cancel_requested

    async def wait_cancelled(self) -> None:
        """Return once a cancel is requested (async handlers can race their work against it)."""
        if self._cancel_event is None:
            self._cancel_event = asyncio.Event()
            if self._cancel_requested:
                self._cancel_event.set()
        await self._cancel_event.wait()

    @property
    def lease_lost(self) -> bool:
        """This worker no longer holds the task: another attempt may be running. A success still counts
        if none started by the time it is reported; a failure never does."""
        return self._lease_lost

    @property
    def is_last_attempt(self) -> bool:
        """A failure now sends the task to the dead-letter queue."""
        return self.attempt > self.max_retries

    def request_cancel(self) -> None:
        """Mark the cancel request (called by the worker, on its event loop)."""
        self._cancel_requested = True
        if self._cancel_event is not None:
            self._cancel_event.set()

    def mark_lease_lost(self) -> None:
        """Mark that the lease is gone (called by the worker)."""
        self._lease_lost = True
