"""The worker registry: each live worker's heartbeat record, written by the worker, read by all.

A record is a hash with a TTL plus a member of the workers zset (scored by the last heartbeat),
so a worker that dies without withdrawing disappears from the list when its record expires.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dtq.keys import GlobalKeys
from dtq.store.connection import RedisClient, redis_errors, text


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


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One live worker, as its last heartbeat described it."""

    id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    in_flight: int
    processed: int
    failed: int
    state: str
    started_at: float
    heartbeat_at: float

    @property
    def heartbeat_age(self) -> float:
        """Seconds since the last heartbeat, by this machine's clock."""
        return max(0.0, time.time() - self.heartbeat_at)


async def live_workers(redis: RedisClient, keys: GlobalKeys) -> list[WorkerInfo]:
    """Workers whose heartbeat record has not expired; forgets the ones that have."""
    with redis_errors():
        ids = [text(raw) for raw in await redis.zrange(keys.workers, 0, -1)]
        if not ids:
            return []
        async with redis.pipeline(transaction=False) as pipe:
            for worker_id in ids:
                pipe.hgetall(keys.worker(worker_id))
            records: list[dict[bytes, bytes]] = await pipe.execute()
        gone = [worker_id for worker_id, record in zip(ids, records, strict=True) if not record]
        if gone:
            await redis.zrem(keys.workers, *gone)
    return [_worker(record) for record in records if record]


def _worker(record: dict[bytes, bytes]) -> WorkerInfo:
    text = {k.decode(): v.decode() for k, v in record.items()}
    return WorkerInfo(
        id=text.get("id", "?"),
        host=text.get("host", "?"),
        pid=int(text.get("pid", 0)),
        queues=[q for q in text.get("queues", "").split(",") if q],
        concurrency=int(text.get("concurrency", 0)),
        in_flight=int(text.get("in_flight", 0)),
        processed=int(text.get("processed", 0)),
        failed=int(text.get("failed", 0)),
        state=text.get("state", "?"),
        started_at=float(text.get("started_at", 0)),
        heartbeat_at=float(text.get("heartbeat_at", 0)),
    )
