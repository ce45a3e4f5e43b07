"""Pub/sub listeners that wake idle processes at once instead of making them poll.

Notifications are hints: one may be lost (a reconnect, a slow subscriber), so every listener's
owner also polls on a slow timer. After a reconnect the listener reports a wake-up anyway,
because something may have happened while it was away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import redis.exceptions as rex

from dtq.store.connection import RedisClient, spread_start, subscriber

log = logging.getLogger("dtq.store.wakeup")

RECONNECT_DELAY = 0.5
READ_TIMEOUT = 1.0  # seconds a read waits before the listener checks whether it should stop


class Listener:
    """Subscribes to `channels` (exact names) and/or `patterns`, calling `on_message(channel, data)`."""

    def __init__(
        self,
        redis: RedisClient,
        on_message: Callable[[str, str], None],
        *,
        channels: Sequence[str] = (),
        patterns: Sequence[str] = (),
    ) -> None:
        self.redis = redis
        self.on_message = on_message
        self.channels = list(channels)
        self.patterns = list(patterns)
        self.subscribed = asyncio.Event()
        self._stopping = False
        self._attempt = spread_start()  # which cluster node to listen on (one server: ignored)

    def stop(self) -> None:
        """Ask `run()` to return (within READ_TIMEOUT seconds).

        Listeners stop on this flag rather than by cancellation: redis-py 8 sometimes loses a
        cancellation that arrives during a pub/sub read, leaving the task reading forever.
        """
        self._stopping = True

    async def run(self) -> None:
        """Listen until `stop()`, resubscribing after any connection failure."""
        while not self._stopping:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except (rex.ConnectionError, rex.TimeoutError, OSError) as exc:
                log.info("notification connection lost (%s); resubscribing", exc)
            except Exception:
                log.exception("notification listener failed; resubscribing")
            self.subscribed.clear()
            self._attempt += 1
            if not self._stopping:
                await asyncio.sleep(RECONNECT_DELAY)

    async def _listen(self) -> None:
        pubsub = await subscriber(self.redis, self._attempt)
        try:
            if self.channels:
                await pubsub.subscribe(*self.channels)
            if self.patterns:
                await pubsub.psubscribe(*self.patterns)
            self.subscribed.set()
            self.on_message("", "reconnected")
            while not self._stopping:
                message = await pubsub.get_message(timeout=READ_TIMEOUT)
                if message is None:
                    continue
                channel, data = message["channel"], message["data"]
                # surrogateescape: a hand-over carries records as stored, which need not be
                # UTF-8; its reader encodes the text back to the exact bytes.
                self.on_message(
                    channel.decode() if isinstance(channel, bytes) else str(channel),
                    data.decode(errors="surrogateescape") if isinstance(data, bytes) else str(data),
                )
        finally:
            await pubsub.aclose()
