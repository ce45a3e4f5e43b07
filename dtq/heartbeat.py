"""How a worker tells the world it is alive: a registry entry in Redis and a local stamp file.

The registry entry (a hash with a TTL plus a member of the workers zset) lists live workers;
the stamp file is what `dtq worker --check` reads for a liveness probe. It is written by the
event loop every second whether or not Redis answers, so a Redis outage does not make
Kubernetes restart healthy workers, while a wedged event loop does get them restarted.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from dtq.keys import GlobalKeys
from dtq.store.connection import RedisClient, redis_errors

STAMP_INTERVAL = 1.0
STALE_AFTER = 10.0  # seconds without a stamp before the check fails


async def publish(redis: RedisClient, keys: GlobalKeys, worker_id: str, fields: Mapping[str, str | int | float],
                  ttl: float, *, queues: Sequence[str] = ()) -> None:  # fmt: skip
    """Write the worker's heartbeat record; it disappears `ttl` seconds after the last one.

    The worker's `queues` are added to the queue index again each time: an index entry lost
    with the last writes before a failover (or a crash) would otherwise hide a queue from the
    scheduler, and with it the recovery of that queue's expired leases.
    """
    record: dict[str, str | int | float] = {**fields, "heartbeat_at": time.time()}
    with redis_errors():
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.worker(worker_id), mapping=record)  # type: ignore[arg-type]  # redis-py's mapping type is invariant
            pipe.pexpire(keys.worker(worker_id), round(ttl * 1000))
            pipe.zadd(keys.workers, {worker_id: float(record["heartbeat_at"]) * 1000})
            if queues:
                pipe.sadd(keys.queues, *queues)
            await pipe.execute()


async def withdraw(redis: RedisClient, keys: GlobalKeys, worker_id: str) -> None:
    """Remove the worker from the registry (on a clean exit)."""
    with redis_errors():
        async with redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.worker(worker_id))
            pipe.zrem(keys.workers, worker_id)
            await pipe.execute()


def stamp(path: Path) -> None:
    """Record that the event loop is alive now."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(f"{time.time():.3f}\n")
    temporary.replace(path)


def is_fresh(path: Path, stale_after: float = STALE_AFTER) -> bool:
    """True if the stamp exists and is recent (the liveness check)."""
    try:
        stamped = float(path.read_text().strip())
    except (OSError, ValueError):
        return False
    return time.time() - stamped < stale_after
