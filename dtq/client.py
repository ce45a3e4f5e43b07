"""The producer and admin API: enqueue, look up, cancel, inspect queues and dead letters.

`Client` is asyncio; `SyncClient` (in `dtq.sync`) offers the same methods for plain code.
Both call the same Lua scripts as the worker and the scheduler, so whatever a client does
is one atomic, idempotent state change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Unpack

from dtq import activity, browse, deadletters, inspection
from dtq.activity import Minute
from dtq.browse import TaskPage
from dtq.deadletters import DeadPage
from dtq.errors import TaskFinished, TaskNotFound
from dtq.inspection import WorkerInfo
from dtq.keys import GlobalKeys, QueueKeys, check_queue_name, queue_keys
from dtq.registry import App, TaskDefinition
from dtq.settings import Settings
from dtq.shards import Shards
from dtq.store import calls
from dtq.store.calls import Cancelled, CancelOutcome, Enqueued, QueueCounts
from dtq.store.connection import (
    RedisClient,
    ServerInfo,
    check_eviction_policy,
    create_redis,
    inspect_server,
    redis_errors,
    text,
)
from dtq.store.scripts import Scripts
from dtq.task import EnqueueOptions, PreparedTask, Task, TaskRequest, TaskState, prepare

ENQUEUE_CHUNK = 2000  # tasks per script call: keeps each call to a few ms of Redis time


class Client:
    """Talks to dtq's Redis on behalf of producers and operators.

    Build it with settings, then `async with Client(settings) as client:` (or `await
    client.connect()` / `await client.close()`). Pass `redis=` to share a connection pool, and
    `app=` so tasks enqueued by name take their handler's queue, priority, retries and timeout.
    """

    def __init__(self, settings: Settings, *, redis: RedisClient | None = None, app: App | None = None) -> None:
        self.settings = settings
        self.app = app
        self._owns_redis = redis is None
        self.redis: RedisClient = redis if redis is not None else create_redis(settings.redis)
        rs = settings.redis
        self.scripts = Scripts(self.redis, wait_replicas=rs.wait_replicas, wait_timeout=rs.wait_timeout)
        self.shards = Shards(rs.shards)  # hot queues spread over several physical queues
        self.prefix = settings.redis.key_prefix
        self.global_keys = GlobalKeys(self.prefix)
        self._registered: set[str] = set()

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.close()

    async def connect(self) -> ServerInfo:
        """Check that Redis is reachable and safe (noeviction), and load the scripts."""
        info = await inspect_server(self.redis, self.global_keys.embedded)
        check_eviction_policy(info, self.settings.redis)
        await self.scripts.load()
        return info

    async def close(self) -> None:
        """Release the connection pool (if this client created it)."""
        if self._owns_redis:
            await self.redis.aclose()

    def keys(self, queue: str) -> QueueKeys:
        """The keys of `queue` (validates the name)."""
        return queue_keys(self.prefix, queue)

    # --- enqueue ----------------------------------------------------------------------------

    async def enqueue(
        self,
        task: str | TaskDefinition,
        payload: Any = None,
        **options: Unpack[EnqueueOptions],
    ) -> Enqueued:
        """Enqueue one task (run at `at`, after `delay` seconds, or now); returns its id and state.

        With an idempotency `key` seen in the last `DTQ_RETENTION_IDEMPOTENCY` seconds on the
        same queue, nothing is stored and the first task's id and state come back.
        """
        return (await self.enqueue_many([self.request(task, payload, **options)]))[0]

    def request(
        self,
        task: str | TaskDefinition,
        payload: Any = None,
        **options: Unpack[EnqueueOptions],
    ) -> TaskRequest:
        """A `TaskRequest`, taking unset options from a registered handler's definition."""
        name = task.name if isinstance(task, TaskDefinition) else task
        request = TaskRequest(task=name, payload=payload, **options)
        return _with_defaults(request, task) if isinstance(task, TaskDefinition) else request

    def with_handler_defaults(self, request: TaskRequest) -> TaskRequest:
        """`request` with unset options taken from its registered handler (when `app` is known)."""
        definition = self.app.get(request.task) if self.app is not None and isinstance(request.task, str) else None
        return request if definition is None else _with_defaults(request, definition)

    async def enqueue_many(self, requests: Sequence[TaskRequest]) -> list[Enqueued]:
        """Enqueue a batch: all valid or none stored (`InvalidTask` names each bad index and field).

        Tasks are stored in chunks pipelined in one round trip per queue; each chunk is atomic,
        and a resent chunk stores nothing twice, because the ids are made here, before sending.
        """
        return await self.store(self.prepare(requests))

    def prepare(self, requests: Sequence[TaskRequest]) -> list[PreparedTask]:
        """Validate and encode requests (all or none), with handler defaults; stores nothing."""
        if self.app is not None:
            requests = [self.with_handler_defaults(r) for r in requests]
        return prepare(requests, self.settings.tasks)

    async def store(self, prepared: Sequence[PreparedTask]) -> list[Enqueued]:
        """Store tasks `prepare()` made, grouped by queue, in one round trip per queue."""
        by_queue: dict[str, list[tuple[int, PreparedTask]]] = defaultdict(list)
        for index, item in enumerate(prepared):
            by_queue[item.queue].append((index, item))
        if self.shards:
            by_queue = self.shards.spread(by_queue, lambda indexed: indexed[1].key)
        await self._register_queues(by_queue)
        results: list[Enqueued | None] = [None] * len(prepared)
        for queue, items in by_queue.items():
            keys = self.keys(queue)
            chunks = [items[i : i + ENQUEUE_CHUNK] for i in range(0, len(items), ENQUEUE_CHUNK)]
            replies = await self.scripts.run_many(
                [calls.enqueue(keys, [t for _, t in chunk], self.settings.retention) for chunk in chunks], durable=True
            )
            for chunk, reply in zip(chunks, replies, strict=True):
                for (index, _), outcome in zip(chunk, reply, strict=True):
                    results[index] = outcome
        return [r for r in results if r is not None]

    async def _register_queues(self, queues: Any) -> None:
        new = [q for q in queues if q not in self._registered]
        if new:
            with redis_errors():
                await self.redis.sadd(self.global_keys.queues, *new)
            self._registered.update(new)

    # --- one task ----------------------------------------------------------------------------

    async def locate(self, task_id: str) -> str | None:
        """The queue holding `task_id`, by asking every known queue in one round trip."""
        queues = await self.queues()
        if not queues:
            return None
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for queue in queues:
                    pipe.hexists(self.keys(queue).column("state"), task_id)
                found = await pipe.execute()
        return next((q for q, hit in zip(queues, found, strict=True) if hit), None)

    async def get(self, task_id: str, queue: str | None = None) -> Task:
        """The full record of a task; `queue` saves a lookup. Raises `TaskNotFound`."""
        queue = self._unsharded(queue) or await self.locate(task_id)
        if queue is None:
            raise TaskNotFound(f"no task {task_id}")
        cols = (await self.scripts.run(calls.inspect(self.keys(queue), [task_id])))[0]
        record = inspection.record_from_columns(task_id, queue, cols)
        if record is None:
            raise TaskNotFound(f"no task {task_id} in queue {queue}")
        return record

    async def get_many(self, queue: str, task_ids: Sequence[str]) -> list[Task | None]:
        """Records of several tasks of one queue (None where a task does not exist)."""
        rows = await self.scripts.run(calls.inspect(self.keys(queue), list(task_ids)))
        return [inspection.record_from_columns(i, queue, cols) for i, cols in zip(task_ids, rows, strict=True)]

    async def cancel(self, task_id: str, queue: str | None = None) -> CancelOutcome:
        """Cancel a waiting task now, or ask the worker running it to stop.

        Raises `TaskNotFound`, or `TaskFinished` if it already succeeded, died or was cancelled.
        """
        queue = self._unsharded(queue) or await self.locate(task_id)
        if queue is None:
            raise TaskNotFound(f"no task {task_id}")
        outcome = await self.scripts.run(calls.cancel(self.keys(queue), task_id))
        if outcome.outcome is Cancelled.NOT_FOUND:
            raise TaskNotFound(f"no task {task_id} in queue {queue}")
        if outcome.outcome is Cancelled.ALREADY_FINAL and outcome.state != "cancelled":
            raise TaskFinished(task_id, outcome.state)
        return outcome

    # --- queues ------------------------------------------------------------------------------

    async def queues(self) -> list[str]:
        """Every queue that was ever enqueued to, sorted."""
        with redis_errors():
            names = await self.redis.smembers(self.global_keys.queues)
        return sorted(text(n) for n in names)

    async def queue_stats(self, queue: str) -> QueueCounts:
        """Counts of one queue by state and priority, oldest-ready time, paused flag (a sharded
        queue's counts are the sums over its shards)."""
        if queue in self.shards.counts:
            return (await self.all_queue_stats([queue]))[queue]
        return await self.scripts.run(calls.queue_stats(self.keys(queue)))

    async def all_queue_stats(self, queues: Sequence[str] | None = None) -> dict[str, QueueCounts]:
        """`queue_stats` of every queue (or of `queues`), in one round trip (one per node on a cluster)."""
        names = list(queues) if queues is not None else await self.queues()
        physical = self.shards.expand(names)
        counts = dict(zip(physical, await self.scripts.run_many([calls.queue_stats(self.keys(q)) for q in physical]),
                          strict=True))  # fmt: skip
        return {name: calls.combined_counts([counts[q] for q in self.shards.of(name)]) for name in names}

    def _unsharded(self, queue: str | None) -> str | None:
        """`queue`, or None for a sharded logical queue (its tasks are in one of its shards)."""
        return None if queue in self.shards.counts else queue

    async def pause(self, queue: str) -> None:
        """Stop workers from claiming from `queue` (running tasks finish normally)."""
        await self._register_queues(self.shards.of(check_queue_name(queue)))
        with redis_errors():
            for name in self.shards.of(queue):
                await self.redis.set(self.keys(name).paused, 1)

    async def resume(self, queue: str) -> None:
        """Let workers claim from `queue` again."""
        with redis_errors():
            for name in self.shards.of(queue):
                await self.redis.delete(self.keys(name).paused)

    async def workers(self) -> list[WorkerInfo]:
        """Live workers, from their heartbeats."""
        return await inspection.live_workers(self.redis, self.global_keys)

    async def tasks(
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

    async def activity(self, queues: Sequence[str] | None = None, minutes: int = 60) -> list[Minute]:
        """Per-minute counts of the last `minutes`, summed over `queues` (default: all)."""
        names = list(queues) if queues is not None else await self.queues()
        return await activity.minutes(self.redis, [self.keys(q) for q in names], minutes)

    # --- dead letters ------------------------------------------------------------------------

    async def dead(
        self, queue: str, *, task: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> DeadPage:
        """A page of `queue`'s dead tasks, newest first (`cursor` from the previous page)."""
        return await deadletters.page(self.scripts, self.keys(queue), task=task, limit=limit, cursor=cursor)

    async def redrive(self, queue: str, *, ids: Sequence[str] | None = None, task: str | None = None) -> int:
        """Requeue dead tasks (these ids; else all, or all named `task`); returns how many."""
        return await deadletters.redrive(self.scripts, self.keys(queue), ids=ids, task=task)

    async def purge_dead(self, queue: str, *, ids: Sequence[str] | None = None, task: str | None = None) -> int:
        """Delete dead tasks (these ids; else all, or all named `task`); returns how many."""
        return await deadletters.purge(self.scripts, self.keys(queue), ids=ids, task=task)


def _with_defaults(request: TaskRequest, definition: TaskDefinition) -> TaskRequest:
    """Fill the options `request` leaves unset from the handler's registration."""
    # Built directly: dataclasses.replace costs several times more, and this is on the API's hot path.
    return TaskRequest(
        task=request.task,
        payload=request.payload,
        queue=request.queue or definition.queue,
        priority=definition.priority if request.priority is None else request.priority,
        max_retries=definition.max_retries if request.max_retries is None else request.max_retries,
        timeout=definition.timeout if request.timeout is None else request.timeout,
        key=request.key,
        delay=request.delay,
        at=request.at,
    )
