"""dtq's Redis as every role sees it: one connection, the scripts, the key builders, and the reads.

The producer `Client`, the `Worker`, the `Scheduler`, the operator's autoscaler and the API's
/metrics page each hold a `Store` (or share one) instead of reaching into each other: what
they write goes through `run`/`run_many` (one Lua script per state change), and what they read
comes from the methods below, which are the only readers of the Lua-written fields.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from redis.asyncio import RedisCluster

from dtq.errors import RedisUnavailable, TooManyQueues
from dtq.events import EVENT_NAMES, parse_totals_field
from dtq.keys import GlobalKeys, QueueKeys, queue_keys, queue_of_channel
from dtq.metrics import HISTOGRAMS, Recorder
from dtq.settings import RedisSettings
from dtq.shards import Shards
from dtq.store import activity, browse, calls, deadletters, histograms, inspection, registry
from dtq.store.activity import Minute
from dtq.store.browse import TaskPage
from dtq.store.calls import Call, QueueCounts
from dtq.store.connection import (
    RedisClient,
    ServerInfo,
    check_eviction_policy,
    create_redis,
    inspect_server,
    redis_errors,
    text,
)
from dtq.store.deadletters import DeadPage
from dtq.store.histograms import Histogram, read_histogram
from dtq.store.registry import WorkerInfo
from dtq.store.scripts import Scripts
from dtq.store.wakeup import Listener
from dtq.task import Task, TaskState

T = TypeVar("T")
P = ParamSpec("P")

#: Seconds a process trusts that a queue it registered is still in the index. A scheduler
#: retires queues that stay empty (see `retire`); the next enqueue learns of it from the queue's
#: marker, and this refresh bounds how long any other cache of the index can be stale.
REGISTRATION_REFRESH = 60.0
UNCAPPED = 2**31
RETIRED_MARK_TTL = 10 * REGISTRATION_REFRESH
#: Redis memory a stored task costs besides its record (ids in sets, hash entries): measured
#: at about 600 bytes (issue 14's memory row), rounded up for the headroom check.
BYTES_PER_STORED_TASK = 800


@dataclass(frozen=True, slots=True)
class Counted:
    """What a queue has counted over its life: per event and task name, and its histograms."""

    totals: dict[str, dict[str, int]]  # event -> task name -> count
    histograms: dict[str, Histogram]  # histogram name -> its buckets


class Store:
    """One Redis connection pool with dtq's scripts and keys on it.

    Build it from the Redis settings (or hand it a client to share a pool), `await connect()`,
    and `await close()` when done; a Store made from a client it was given leaves that client open.
    """

    def __init__(self, settings: RedisSettings, *, redis: RedisClient | None = None) -> None:
        self.settings = settings
        self._owns_redis = redis is None
        self.redis: RedisClient = redis if redis is not None else create_redis(settings)
        self.scripts = Scripts(self.redis, wait_replicas=settings.wait_replicas, wait_timeout=settings.wait_timeout)
        self.shards = Shards(settings.shards)  # hot queues spread over several physical queues
        self.prefix = settings.key_prefix
        self.global_keys = GlobalKeys(self.prefix)
        self._registered: dict[str, float] = {}  # queue -> when this process last registered it

    async def connect(self) -> ServerInfo:
        """Check that Redis is reachable and safe (noeviction), and load the scripts."""
        info = await self.check()
        await self.scripts.load()
        return info

    async def check(self) -> ServerInfo:
        """What the server is, once it answers and is safe to use (raises `UnsafeRedisConfig` if not)."""
        info = await inspect_server(self.redis, self.global_keys.embedded)
        check_eviction_policy(info, self.settings)
        return info

    async def close(self) -> None:
        """Release the connection pool (if this store created it)."""
        if self._owns_redis:
            await self.redis.aclose()

    def keys(self, queue: str) -> QueueKeys:
        """The keys of `queue` (validates the name)."""
        return queue_keys(self.prefix, queue)

    def call(
        self, queue: str, build: Callable[Concatenate[QueueKeys, P], Call[T]], *args: P.args, **kwargs: P.kwargs
    ) -> Call[T]:
        """The call `build` (one of dtq.store.calls) makes for `queue`'s keys."""
        return build(self.keys(queue), *args, **kwargs)

    def listener(
        self,
        on_message: Callable[[str, str], None],
        *,
        worker_queues: Sequence[str] = (),
        worker_id: str | None = None,
        scheduler: bool = False,
    ) -> Listener:
        """A subscription to the wake-ups of workers of `worker_queues` (and the hand-overs to
        `worker_id`), and/or those for schedulers."""
        inbox = [self.global_keys.inbox(worker_id)] if worker_id is not None else []
        return Listener(
            self.redis,
            on_message,
            channels=[*inbox, *(self.keys(q).worker_channel for q in worker_queues)],
            patterns=[self.global_keys.scheduler_pattern] if scheduler else [],
        )

    def is_inbox(self, channel: str) -> bool:
        """Whether `channel` is a worker's own channel (hand-overs)."""
        return channel.startswith(self.global_keys.inbox_prefix)

    def queue_of_channel(self, channel: str) -> str | None:
        """The queue a notification channel belongs to (None for a channel of no queue)."""
        return queue_of_channel(self.prefix, channel)

    # --- writes: one script per state change ---------------------------------------------------

    async def run(self, call: Call[T]) -> T:
        """Run one script call."""
        return await self.scripts.run(call)

    async def run_many(self, batch: Sequence[Call[T]], *, durable: bool = False) -> list[T]:
        """Run several script calls in one round trip (see `Scripts.run_many`)."""
        return await self.scripts.run_many(batch, durable=durable)

    async def run_each(self, batch: Sequence[Call[T]], *, durable: bool = False) -> list[T | Exception]:
        """Like `run_many`, with each call's own outcome (see `Scripts.run_each`)."""
        return await self.scripts.run_each(batch, durable=durable)

    async def check_headroom(self, spec_bytes: int, tasks: int) -> None:
        """Raise RedisUnavailable (out of memory) if Redis's maxmemory leaves clearly too little
        room for `tasks` records holding `spec_bytes` in all, before any is stored. On a cluster
        the parts land on different nodes; there, the take-back alone keeps the promise."""
        if isinstance(self.redis, RedisCluster):
            return
        with redis_errors():
            memory = await self.redis.info("memory")
        limit, used = int(memory.get("maxmemory", 0)), int(memory.get("used_memory", 0))
        needed = tasks * BYTES_PER_STORED_TASK + 2 * spec_bytes
        if limit and used + needed > limit:
            raise RedisUnavailable(
                f"Redis is nearly out of memory: {(limit - used) // 1024} KiB free, and these tasks need about "
                f"{needed // 1024} KiB; nothing was stored",
                out_of_memory=True,
            )

    async def take_permit(self, subject: str, rate: float, burst: int) -> float:
        """A permit from the rate limit of `subject`, shared by every process: 0, or the
        seconds until one could be taken."""
        return await self.scripts.run(calls.take_permit(self.global_keys.rate(subject), rate, burst))

    async def register_queues(self, queues: Iterable[str], cap: int = UNCAPPED) -> None:
        """Add `queues` to the index of known queues, all or none; `TooManyQueues` if that would
        make more than `cap` (DTQ_QUEUES_MAX). Each process re-registers a queue after
        REGISTRATION_REFRESH, so a queue the scheduler retired while empty comes back."""
        now = time.monotonic()
        new = [q for q in queues if now - self._registered.get(q, -REGISTRATION_REFRESH) >= REGISTRATION_REFRESH]
        if new:
            refused = await self.scripts.run(calls.register_queues(self.global_keys.queues, new, cap))
            if refused:
                raise TooManyQueues(refused, cap)
            self._registered.update(dict.fromkeys(new, now))

    def registered_recently(self, queue: str) -> bool:
        """Whether an enqueue to `queue` needs no registration first (see `register_queues`)."""
        return time.monotonic() - self._registered.get(queue, -REGISTRATION_REFRESH) < REGISTRATION_REFRESH

    async def reinstate(self, queues: Iterable[str]) -> None:
        """Put queues an enqueue found retired back in the index (not against the cap: they
        hold a task now)."""
        names = list(queues)
        with redis_errors():
            await self.redis.sadd(self.global_keys.queues, *names)
        self._registered.update(dict.fromkeys(names, time.monotonic()))

    async def retire_if_empty(self, queue: str) -> bool:
        """Take `queue` out of the index if it holds no task and is not paused (True if it did).
        An enqueue racing with this is safe: it finds the mark, or the re-check below does."""
        if not await self.scripts.run(calls.retire(self.keys(queue), calls.ms(RETIRED_MARK_TTL))):
            return False
        with redis_errors():
            await self.redis.srem(self.global_keys.queues, queue)
        if await self.scripts.run(calls.still_retired(self.keys(queue))):
            return True
        await self.reinstate([queue])
        return False

    async def task_counts(self, queues: Sequence[str]) -> dict[str, int]:
        """How many tasks (in any state) each queue holds, in one round trip."""
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for queue in queues:
                    pipe.hlen(self.keys(queue).column("spec"))  # every task has its record
                counts = await pipe.execute()
        return dict(zip(queues, (int(n) for n in counts), strict=True))

    async def set_paused(self, queue: str, paused: bool) -> None:
        """Pause or resume `queue` (every shard of a sharded queue)."""
        names = self.shards.of(queue)
        if paused:
            await self.register_queues(names)
        with redis_errors():
            for name in names:
                if paused:
                    await self.redis.set(self.keys(name).paused, 1)
                else:
                    await self.redis.delete(self.keys(name).paused)

    async def heartbeat(
        self, worker_id: str, fields: Mapping[str, str | int | float], ttl: float, *, queues: Sequence[str] = ()
    ) -> None:
        """Write a worker's heartbeat record (see `registry.publish`)."""
        await registry.publish(self.redis, self.global_keys, worker_id, fields, ttl, queues=queues)

    async def withdraw(self, worker_id: str) -> None:
        """Remove a worker from the registry (on a clean exit)."""
        await registry.withdraw(self.redis, self.global_keys, worker_id)

    async def add_observations(self, recorder: Recorder) -> None:
        """Add what `recorder` observed to the queues' histograms (kept for the next try on failure)."""
        await histograms.add(self.redis, self.keys, recorder)

    # --- reads -------------------------------------------------------------------------------

    async def queues(self) -> list[str]:
        """Every queue that was ever enqueued to, sorted."""
        with redis_errors():
            names = await self.redis.smembers(self.global_keys.queues)
        return sorted(text(n) for n in names)

    async def locate(self, task_id: str) -> str | None:
        """The queue holding `task_id`, by asking every known queue in one round trip."""
        queues = await self.queues()
        if not queues:
            return None
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for queue in queues:
                    pipe.hexists(self.keys(queue).column("spec"), task_id)
                found = await pipe.execute()
        return next((q for q, hit in zip(queues, found, strict=True) if hit), None)

    async def records(self, queue: str, task_ids: Sequence[str]) -> list[Task | None]:
        """Whole records of tasks of one queue (None where a task does not exist)."""
        rows = await self.run(calls.inspect(self.keys(queue), list(task_ids)))
        return [inspection.record_from_columns(i, queue, cols) for i, cols in zip(task_ids, rows, strict=True)]

    async def queue_counts(self, queues: Sequence[str]) -> dict[str, QueueCounts]:
        """Counts of each of `queues` (a sharded queue's summed over its shards), in one round trip."""
        physical = self.shards.expand(queues)
        replies = await self.run_many([calls.queue_stats(self.keys(q)) for q in physical])
        counts = dict(zip(physical, replies, strict=True))
        return {name: calls.combined_counts([counts[q] for q in self.shards.of(name)]) for name in queues}

    async def workers(self) -> list[WorkerInfo]:
        """Live workers, from their heartbeats."""
        return await registry.live_workers(self.redis, self.global_keys)

    async def page(
        self,
        queue: str,
        state: TaskState,
        *,
        task: str | None = None,
        priority: int | None = None,
        limit: int = 50,
        cursor: int = 0,
    ) -> TaskPage:
        """A page of `queue`'s tasks in `state` (run order, or newest first once finished)."""
        return await browse.page(
            self.scripts, self.keys(queue), state, task=task, priority=priority, limit=limit, cursor=cursor
        )

    async def activity(self, queues: Sequence[str], minutes: int) -> list[Minute]:
        """Per-minute counts of the last `minutes`, summed over `queues`."""
        return await activity.minutes(self.redis, [self.keys(q) for q in queues], minutes)

    async def counted(self, queues: Sequence[str]) -> dict[str, Counted]:
        """Each queue's lifetime totals and histograms, in one round trip."""
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for queue in queues:
                    keys = self.keys(queue)
                    pipe.hgetall(keys.totals)
                    for name in HISTOGRAMS:
                        pipe.hgetall(keys.histogram(name))
                replies = await pipe.execute()
        width = len(HISTOGRAMS) + 1
        out: dict[str, Counted] = {}
        for position, queue in enumerate(queues):
            own = replies[position * width : (position + 1) * width]
            stored = {name: read_histogram(name, raw) for name, raw in zip(HISTOGRAMS, own[1:], strict=True)}
            out[queue] = Counted(_totals(own[0]), stored)
        return out

    # --- dead letters ------------------------------------------------------------------------

    async def dead(self, queue: str, *, task: str | None, limit: int, cursor: str | None) -> DeadPage:
        """A page of `queue`'s dead tasks, newest first."""
        return await deadletters.page(self.scripts, self.keys(queue), task=task, limit=limit, cursor=cursor)

    async def redrive(self, queue: str, *, ids: Sequence[str] | None, task: str | None) -> int:
        """Requeue dead tasks; returns how many."""
        return await deadletters.redrive(self.scripts, self.keys(queue), ids=ids, task=task)

    async def purge_dead(self, queue: str, *, ids: Sequence[str] | None, task: str | None) -> int:
        """Delete dead tasks; returns how many."""
        return await deadletters.purge(self.scripts, self.keys(queue), ids=ids, task=task)


def _totals(raw: Mapping[bytes, Any]) -> dict[str, dict[str, int]]:
    """Totals by event and task name; fields of events dtq does not count are left out."""
    totals: dict[str, dict[str, int]] = {event: {} for event in EVENT_NAMES}
    for field, count in raw.items():
        event, task = parse_totals_field(text(field))
        if event in totals:
            totals[event][task] = int(count)
    return totals
