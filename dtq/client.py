"""The producer and admin API: enqueue, look up, cancel, inspect queues and dead letters.

`Client` is asyncio; `SyncClient` (in `dtq.sync`) offers the same methods for plain code.
Both call the same Lua scripts as the worker and the scheduler, so whatever a client does
is one atomic, idempotent state change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from types import TracebackType
from typing import Any, NoReturn, Unpack

from dtq.errors import BulkTakenBack, RedisUnavailable, TaskFinished, TaskNotFound
from dtq.keys import check_queue_name
from dtq.registry import App, TaskDefinition
from dtq.settings import Settings
from dtq.store import calls
from dtq.store.activity import Minute
from dtq.store.browse import TaskPage
from dtq.store.calls import Cancelled, CancelOutcome, Enqueued, QueueCounts
from dtq.store.connection import ServerInfo
from dtq.store.deadletters import DeadPage
from dtq.store.registry import WorkerInfo
from dtq.store.store import Store
from dtq.task import EnqueueOptions, PreparedTask, Task, TaskRequest, TaskState, prepare

ENQUEUE_CHUNK = 2000  # tasks per script call: keeps each call to a few ms of Redis time


class Client:
    """Talks to dtq's Redis on behalf of producers and operators.

    Build it with settings, then `async with Client(settings) as client:` (or `await
    client.connect()` / `await client.close()`). Pass `store=` to share a connection pool, and
    `app=` so tasks enqueued by name take their handler's queue, priority, retries and timeout.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        app: App | None = None,
    ) -> None:
        self.settings = settings
        self.app = app
        self._owns_store = store is None
        self.store = store if store is not None else Store(settings.redis)

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.close()

    async def connect(self) -> ServerInfo:
        """Check that Redis is reachable and safe (noeviction), and load the scripts."""
        return await self.store.connect()

    async def close(self) -> None:
        """Release the connection pool (if this client created it)."""
        if self._owns_store:
            await self.store.close()

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
        return await self.enqueue_prepared(self.prepare(requests))

    def prepare(self, requests: Sequence[TaskRequest]) -> list[PreparedTask]:
        """Validate and encode requests (all or none), with handler defaults; stores nothing."""
        if self.app is not None:
            requests = [self.with_handler_defaults(r) for r in requests]
        return prepare(requests, self.settings.tasks)

    async def enqueue_prepared(self, prepared: Sequence[PreparedTask]) -> list[Enqueued]:
        """Store tasks `prepare()` made, all or none, in one round trip.

        A request larger than one script call (ENQUEUE_CHUNK tasks, or several queues) is
        first checked against Redis's free memory; if a call still fails, the calls that
        succeeded are taken back (`BulkTakenBack`), so a client that retries duplicates nothing.
        """
        by_queue: dict[str, list[tuple[int, PreparedTask]]] = defaultdict(list)
        for index, item in enumerate(prepared):
            by_queue[item.queue].append((index, item))
        shards = self.store.shards
        if shards:
            by_queue = shards.spread(by_queue, lambda indexed: indexed[1].key)
        await self.store.register_queues(by_queue, self.settings.queues.max)
        chunks = [
            (queue, items[i : i + ENQUEUE_CHUNK]) for queue, items in by_queue.items()
            for i in range(0, len(items), ENQUEUE_CHUNK)
        ]  # fmt: skip
        if len(chunks) > 1:
            await self.store.check_headroom(sum(len(t.spec) for t in prepared), len(prepared))
        retention = self.settings.retention
        replies = await self.store.run_each(
            [self.store.call(queue, calls.enqueue, [t for _, t in chunk], retention) for queue, chunk in chunks],
            durable=True,
        )
        failure = next((reply for reply in replies if isinstance(reply, Exception)), None)
        if failure is not None:
            await self._take_back(chunks, replies, failure)
        results: list[Enqueued | None] = [None] * len(prepared)
        retired: set[str] = set()
        for (queue, chunk), reply in zip(chunks, replies, strict=True):
            assert not isinstance(reply, Exception)
            for (index, _), outcome in zip(chunk, reply, strict=True):
                results[index] = outcome
            if reply.queue_was_retired:
                retired.add(queue)
        if retired:
            await self.store.reinstate(retired)
        return [r for r in results if r is not None]

    async def _take_back(
        self,
        chunks: Sequence[tuple[str, Sequence[tuple[int, PreparedTask]]]],
        replies: Sequence[calls.EnqueueReply | Exception],
        failure: Exception,
    ) -> NoReturn:
        """Undo the calls of a request that succeeded, then raise `failure` (as BulkTakenBack)."""
        undo = []
        for (queue, chunk), reply in zip(chunks, replies, strict=True):
            if not isinstance(reply, Exception):
                created = [t for (_, t), o in zip(chunk, reply, strict=True) if o.outcome is calls.Stored.CREATED]
                if created:
                    undo.append(self.store.call(queue, calls.unstore, created))
        if not undo or not isinstance(failure, RedisUnavailable):
            raise failure
        left = [task_id for kept in await self.store.run_many(undo) for task_id in kept]
        raise BulkTakenBack(failure, left) from failure

    # --- one task ----------------------------------------------------------------------------

    async def locate(self, task_id: str) -> str | None:
        """The queue holding `task_id`, by asking every known queue in one round trip."""
        return await self.store.locate(task_id)

    async def get(self, task_id: str, queue: str | None = None) -> Task:
        """The full record of a task; `queue` saves a lookup. Raises `TaskNotFound`."""
        queue = self._unsharded(queue) or await self.locate(task_id)
        if queue is None:
            raise TaskNotFound(f"no task {task_id}")
        (record,) = await self.store.records(queue, [task_id])
        if record is None:
            raise TaskNotFound(f"no task {task_id} in queue {queue}")
        return record

    async def get_many(self, queue: str, task_ids: Sequence[str]) -> list[Task | None]:
        """Records of several tasks of one queue (None where a task does not exist)."""
        return await self.store.records(queue, task_ids)

    async def cancel(self, task_id: str, queue: str | None = None) -> CancelOutcome:
        """Cancel a waiting task now, or ask the worker running it to stop.

        Raises `TaskNotFound`, or `TaskFinished` if it already succeeded, died or was cancelled.
        """
        queue = self._unsharded(queue) or await self.locate(task_id)
        if queue is None:
            raise TaskNotFound(f"no task {task_id}")
        outcome = await self.store.run(self.store.call(queue, calls.cancel, task_id))
        if outcome.outcome is Cancelled.NOT_FOUND:
            raise TaskNotFound(f"no task {task_id} in queue {queue}")
        if outcome.outcome is Cancelled.ALREADY_FINAL and outcome.state != "cancelled":
            raise TaskFinished(task_id, outcome.state)
        return outcome

    # --- queues ------------------------------------------------------------------------------

    async def queues(self) -> list[str]:
        """Every queue that was ever enqueued to, sorted."""
        return await self.store.queues()

    async def queue_stats(self, queue: str) -> QueueCounts:
        """Counts of one queue by state and priority, oldest-ready time, paused flag (a sharded
        queue's counts are the sums over its shards)."""
        return (await self.store.queue_counts([queue]))[queue]

    async def all_queue_stats(self, queues: Sequence[str] | None = None) -> dict[str, QueueCounts]:
        """`queue_stats` of every queue (or of `queues`), in one round trip (one per node on a cluster)."""
        return await self.store.queue_counts(list(queues) if queues is not None else await self.queues())

    async def knows_queue(self, name: str) -> bool:
        """Whether `name` was ever enqueued to, or is a sharded queue (known by its map)."""
        return name in self.store.shards.counts or name in await self.queues()

    def _unsharded(self, queue: str | None) -> str | None:
        """`queue`, or None for a sharded logical queue (its tasks are in one of its shards)."""
        return None if queue in self.store.shards.counts else queue

    async def pause(self, queue: str) -> None:
        """Stop workers from claiming from `queue` (running tasks finish normally)."""
        await self.store.set_paused(check_queue_name(queue), True)

    async def resume(self, queue: str) -> None:
        """Let workers claim from `queue` again."""
        await self.store.set_paused(queue, False)

    async def workers(self) -> list[WorkerInfo]:
        """Live workers, from their heartbeats."""
        return await self.store.workers()

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
        return await self.store.page(queue, state, task=task, priority=priority, limit=limit, cursor=cursor)

    async def activity(self, queues: Sequence[str] | None = None, minutes: int = 60) -> list[Minute]:
        """Per-minute counts of the last `minutes`, summed over `queues` (default: all)."""
        names = list(queues) if queues is not None else await self.queues()
        return await self.store.activity(names, minutes)

    # --- dead letters ------------------------------------------------------------------------

    async def dead(
        self, queue: str, *, task: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> DeadPage:
        """A page of `queue`'s dead tasks, newest first (`cursor` from the previous page)."""
        return await self.store.dead(queue, task=task, limit=limit, cursor=cursor)

    async def redrive(self, queue: str, *, ids: Sequence[str] | None = None, task: str | None = None) -> int:
        """Requeue dead tasks (these ids; else all, or all named `task`); returns how many."""
        return await self.store.redrive(queue, ids=ids, task=task)

    async def purge_dead(self, queue: str, *, ids: Sequence[str] | None = None, task: str | None = None) -> int:
        """Delete dead tasks (these ids; else all, or all named `task`); returns how many."""
        return await self.store.purge_dead(queue, ids=ids, task=task)


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
