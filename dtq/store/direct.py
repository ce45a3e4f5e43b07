"""The blocking client's direct enqueue: the common call, sent from the caller's own thread.

`SyncClient` forwards calls to an async `Client` on a loop thread of its own; each hand-off
wakes that thread and waits to be woken back, about 0.4 ms on a 2-core machine, more than the
Redis round trip itself. An enqueue of one queue's tasks in one script call, to a queue
registered lately, on a single server without replica acknowledgement, needs nothing of the
async client's state but what it already learned (the scripts it loaded, the queues it
registered): it is sent here on a blocking connection, with the same builder, the same script
and the same reply parser. Anything else returns None and goes the long way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
import redis.exceptions as rex

from dtq.settings import Settings
from dtq.store import calls
from dtq.store.calls import EnqueueReply
from dtq.store.connection import create_blocking_redis, redis_errors
from dtq.store.store import Store
from dtq.task import PreparedTask


class DirectEnqueue:
    """Sends eligible enqueues on a blocking connection; one per `SyncClient`."""

    def __init__(self, redis_client: redis.Redis, store: Store, settings: Settings, chunk: int) -> None:
        self._redis = redis_client
        self._store = store
        self._settings = settings
        self._chunk = chunk

    @classmethod
    def of(cls, settings: Settings, store: Store, chunk: int) -> DirectEnqueue | None:
        """The direct path for `store`'s server, or None where only the async client can go."""
        if settings.redis.wait_replicas or store.shards:
            return None
        client = create_blocking_redis(settings.redis)
        return cls(client, store, settings, chunk) if client is not None else None

    def enqueue(self, prepared: Sequence[PreparedTask]) -> EnqueueReply | None:
        """Store `prepared` (one queue, one script call) and return the script's reply, or None
        when this call is not one the direct path makes."""
        if not prepared or len(prepared) > self._chunk:
            return None
        queue = prepared[0].queue
        script = self._store.scripts.loaded("enqueue")
        if script is None or any(t.queue != queue for t in prepared) or not self._store.registered_recently(queue):
            return None
        call = calls.enqueue(self._store.keys(queue), prepared, self._settings.retention)
        sha, source = script
        with redis_errors():
            try:
                reply: Any = self._redis.evalsha(sha, len(call.keys), *call.keys, *call.args)
            except rex.NoScriptError:  # the server restarted and forgot its scripts
                self._redis.script_load(source)
                reply = self._redis.evalsha(sha, len(call.keys), *call.keys, *call.args)
        return call.parse(reply)

    def close(self) -> None:
        self._redis.close()
