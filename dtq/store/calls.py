"""One typed builder per Lua script: which keys and arguments it takes, and what it answers.

A builder is pure: it returns a `Call` (script name, KEYS, ARGV, reply parser) that
`Scripts.run()` executes, or `Scripts.run_many()` pipelines with others. The KEYS order of
every builder is the order its script's header documents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Generic, Literal, TypeVar

import msgspec

from dtq.errors import ScriptError
from dtq.keys import COLUMNS, QueueKeys
from dtq.metrics import HISTOGRAMS
from dtq.settings import RetentionSettings
from dtq.task import PreparedTask, TaskState

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Arg = str | bytes | int | float


@dataclass(frozen=True, slots=True)
class Call(Generic[T_co]):
    """One script invocation, ready to run."""

    script: str
    keys: tuple[str, ...]
    args: tuple[Arg, ...]
    parse: Callable[[Any], T_co]


def ms(seconds: float) -> int:
    """Seconds as whole milliseconds, the unit of every script argument."""
    return round(seconds * 1000)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _flags(reply: Sequence[int]) -> list[bool]:
    return [bool(code) for code in reply]


# --- rate limits ------------------------------------------------------------------------------


def take_permit(key: str, rate: float, burst: int) -> Call[float]:
    """One permit from the limit at `key` (`rate` per second, `burst` at once): the seconds to
    wait before one could be taken, 0 when it was."""
    return Call("take_permit", (key,), (1000 / rate, burst), lambda wait: int(wait) / 1000)


def register_queues(index: str, queues: Sequence[str], cap: int) -> Call[list[str]]:
    """Add `queues` to the queue index at `index`, all or none, if the index stays within `cap`:
    the names refused (empty when all are in the index)."""
    return Call("register_queues", (index,), (cap, *queues), lambda refused: [_text(name) for name in refused])


def retire(keys: QueueKeys, mark_ms: int) -> Call[bool]:
    """Mark the queue retired and drop its bookkeeping, if it holds no task and is not paused."""
    bookkeeping = (keys.totals, keys.activity, keys.idempotency, keys.idempotency_expiry)
    histograms = tuple(keys.histogram(name) for name in HISTOGRAMS)
    return Call("retire", (keys.column("spec"), keys.paused, keys.retired, *bookkeeping, *histograms), (mark_ms,), bool)


def still_retired(keys: QueueKeys) -> Call[bool]:
    """Whether the queue is still retired (no enqueue took its mark since)."""
    return Call("still_retired", (keys.column("spec"), keys.retired), (), bool)


# How many leases long a claim nobody forgets can still be resent: a worker cut off for longer is
# taken for dead (its heartbeat lapsed too), and records of dead workers must not pile up.
CLAIM_MEMORY_LEASES = 10


# --- enqueue ---------------------------------------------------------------------------------


class Stored(IntEnum):
    """What the enqueue script did with one task."""

    EXISTED = 0  #: a task with this id was already stored (a resent call); nothing written
    CREATED = 1  #: stored now
    DUPLICATE_KEY = 2  #: the idempotency key was seen; the id is the first task's


class Enqueued(msgspec.Struct, frozen=True):
    """The task a request ended up as."""

    outcome: Stored
    id: str
    state: TaskState


class EnqueueReply(list[Enqueued]):
    """The outcomes of one enqueue call, in task order, and whether the queue had been retired
    (then the caller puts it back in the queue index)."""

    queue_was_retired: bool = False


def enqueue(keys: QueueKeys, tasks: Sequence[PreparedTask], retention: RetentionSettings) -> Call[EnqueueReply]:
    """Store `tasks`, all of one queue."""
    args: list[Arg] = [ms(retention.idempotency), keys.worker_channel, keys.scheduler_channel, keys.inbox_prefix,
                       CLAIM_MEMORY_LEASES]  # fmt: skip
    # Tasks sharing their options travel as one group: 2 arguments per task instead of 7.
    groups: dict[tuple[int, int, int, str, bool], list[int]] = {}
    for index, t in enumerate(tasks):
        groups.setdefault((t.priority, t.delay_ms, t.at_ms, t.task, t.key is not None), []).append(index)
    order: list[int] = []
    for (priority, delay_ms, at_ms, name, keyed), indexes in groups.items():
        args += [priority, delay_ms, at_ms, name, int(keyed), len(indexes)]
        for index in indexes:
            task = tasks[index]
            args += [task.id, task.spec, task.key] if keyed and task.key is not None else [task.id, task.spec]
            order.append(index)

    def parse(reply: list[Any]) -> EnqueueReply:
        outcomes: list[Enqueued | None] = [None] * len(order)
        for position, index in enumerate(order):
            at = 3 * position
            outcomes[index] = Enqueued(Stored(int(reply[at])), _text(reply[at + 1]), TaskState(_text(reply[at + 2])))
        parsed = EnqueueReply(o for o in outcomes if o is not None)
        parsed.queue_was_retired = bool(reply[-1])
        return parsed

    columns = (keys.column("spec"), keys.column("state"), keys.column("due"))
    return Call(
        "enqueue",
        (keys.queued, keys.scheduled, *columns, keys.idempotency, keys.idempotency_expiry, keys.totals,
         keys.activity, keys.retired, keys.paused, keys.active, keys.column("run"), keys.claim_prefix, keys.parked),
        tuple(args),
        parse,
    )  # fmt: skip


def unstore(keys: QueueKeys, tasks: Sequence[PreparedTask]) -> Call[list[str]]:
    """Take back `tasks` (stored by this request) that are still waiting: the ids that were
    not (a worker claimed them meanwhile)."""
    args: list[Arg] = []
    for task in tasks:
        args += [task.id, task.key or ""]
    return Call(
        "unstore",
        (keys.queued, keys.scheduled, keys.idempotency, keys.idempotency_expiry, keys.column("state"), *keys.columns),
        tuple(args),
        lambda kept: [_text(task_id) for task_id in kept],
    )


# --- claim -----------------------------------------------------------------------------------


class ClaimedTask(msgspec.Struct, frozen=True):
    """A task a worker now holds: its stored record (None if missing) and claim facts."""

    id: str
    spec: bytes | None
    attempt: int
    ready_ms: int


@dataclass(frozen=True, slots=True)
class ClaimBatch:
    """What one claim returned."""

    now_ms: int
    ready_left: int
    tasks: list[ClaimedTask]
    parked: bool = False
    """The caller is parked under its park token: an enqueue may hand it tasks."""

    @property
    def paused(self) -> bool:
        """The queue is paused; nothing was claimed."""
        return self.ready_left < 0


def claim(
    keys: QueueKeys,
    *,
    count: int,
    lease_ms: int,
    token: str,
    order: str,
    forget: str = "",
    park_token: str = "",
    park_ms: int = 0,
) -> Call[ClaimBatch]:
    """Claim up to `count` ready tasks; `order` is '' (strict) or the priority levels to visit.

    `token` names this claim: "<worker id>#<n>", without '|'. `forget` is the token of the
    caller's previous claim on this queue, answered since, whose record is no longer needed.
    `park_token` (the caller's next token) parks the caller for `park_ms` if the claim leaves it
    free slots and the queue nothing queued, so an enqueue hands it tasks at once.
    """

    def parse(reply: list[Any]) -> ClaimBatch:
        tasks = [
            ClaimedTask(_text(reply[i]), reply[i + 1] or None, int(reply[i + 2]), int(reply[i + 3]))
            for i in range(3, len(reply), 4)
        ]
        return ClaimBatch(int(reply[0]), int(reply[1]), tasks, parked=bool(reply[2]))

    return Call(
        "claim",
        (
            keys.queued,
            keys.active,
            keys.paused,
            keys.column("spec"),
            keys.column("state"),
            keys.column("run"),
            keys.claim_prefix,
            keys.dead,
            keys.column("error"),
            keys.parked,
        ),
        (count, lease_ms, token, order, forget, lease_ms * CLAIM_MEMORY_LEASES, park_token, park_ms),
        parse,
    )


# --- outcomes of held tasks ------------------------------------------------------------------


class Success(msgspec.Struct, frozen=True):
    """A held task that succeeded; `result` is its JSON (None = no result)."""

    id: str
    token: str
    task: str
    result: bytes | None


class Failure(msgspec.Struct, frozen=True):
    """A held task that failed and will be retried after `delay_ms`."""

    id: str
    token: str
    task: str
    error: bytes
    delay_ms: int


class Burial(msgspec.Struct, frozen=True):
    """A held task that ends without success (dead, or cancelled on request)."""

    id: str
    token: str
    task: str
    error: bytes


class HandBack(msgspec.Struct, frozen=True):
    """A held task given back unfinished, to its old place in line (`task`: its name, counted
    if a pending cancel ends it instead)."""

    id: str
    token: str
    task: str
    ready_ms: int


class Lease(msgspec.Struct, frozen=True):
    """A held task whose lease should be renewed."""

    id: str
    token: str


Held = Success | Failure | Burial | HandBack | Lease


def _grouped(items: Sequence[Held], extras: Callable[[Any], tuple[Arg, ...]]) -> tuple[list[Arg], list[int]]:
    """ARGV groups (token, task name, count, then per item its id and `extras`), and for each
    argument position the index of its item, so verdicts map back to the caller's order.

    A worker holds each claim's tasks under one token, so grouping sends the token once per
    claim instead of once per task.
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault((item.token, getattr(item, "task", "")), []).append(index)
    args: list[Arg] = []
    order: list[int] = []
    for (token, name), indexes in groups.items():
        args += [token, name, len(indexes)]
        for index in indexes:
            args += [items[index].id, *extras(items[index])]
            order.append(index)
    return args, order


def _in_item_order(order: list[int], convert: Callable[[int], T]) -> Callable[[list[int]], list[T]]:
    def parse(reply: list[int]) -> list[T]:
        verdicts: list[T] = [convert(0)] * len(order)
        for position, code in zip(order, reply, strict=True):
            verdicts[position] = convert(int(code))
        return verdicts

    return parse


def complete(keys: QueueKeys, items: Sequence[Success]) -> Call[list[bool]]:
    """Record successes; per item True (also when it came after its lease lapsed but no newer
    attempt started), or False when it was refused."""
    args, order = _grouped(items, lambda s: (s.result or "",))
    cols = ("state", "run", "result", "cancel")
    return Call(
        "complete",
        (keys.active, keys.succeeded, *(keys.column(c) for c in cols), keys.totals, keys.activity, keys.queued,
         keys.dead, keys.column("error"), keys.column("spec")),
        tuple(args),
        _in_item_order(order, bool),
    )  # fmt: skip


def retry(keys: QueueKeys, items: Sequence[Failure]) -> Call[list[bool]]:
    """Schedule retries; per item True, or False when the lease was lost."""
    args, order = _grouped(items, lambda f: (f.delay_ms, f.error))
    cols = ("state", "run", "spec", "error", "due", "cancel")
    return Call(
        "retry",
        (keys.active, keys.retrying, keys.queued, *(keys.column(c) for c in cols), keys.cancelled, keys.totals,
         keys.activity),
        (keys.worker_channel, keys.scheduler_channel, *args),
        _in_item_order(order, bool),
    )  # fmt: skip


def bury(
    keys: QueueKeys, final: Literal["dead", "cancelled", "unrunnable"], items: Sequence[Burial]
) -> Call[list[bool]]:
    """End held tasks as dead (`unrunnable`: dead without running, under their own cap) or
    cancelled; per item True, or False when the lease was lost."""
    args, order = _grouped(items, lambda b: (b.error,))
    target = keys.cancelled if final == "cancelled" else keys.dead
    cols = ("state", "run", "error", "cancel")
    return Call(
        "bury",
        (keys.active, target, *(keys.column(c) for c in cols), keys.totals, keys.activity, keys.unrunnable),
        (final, *args),
        _in_item_order(order, bool),
    )


def release(keys: QueueKeys, items: Sequence[HandBack]) -> Call[list[bool]]:
    """Hand held tasks back; per item True, or False when the lease was already lost."""
    args, order = _grouped(items, lambda h: (h.ready_ms,))
    cols = ("state", "run", "spec", "cancel")
    return Call(
        "release",
        (keys.active, keys.queued, *(keys.column(c) for c in cols), keys.cancelled, keys.totals, keys.activity),
        (keys.worker_channel, *args),
        _in_item_order(order, bool),
    )


class LeaseVerdict(IntEnum):
    """What renewing one lease found."""

    LOST = 0  #: the task is no longer held with this token
    RENEWED = 1
    CANCEL_REQUESTED = 2  #: renewed, and someone asked to cancel the task


def extend(keys: QueueKeys, items: Sequence[Lease], lease_ms: int) -> Call[list[LeaseVerdict]]:
    """Renew leases by `lease_ms` from now."""
    args, order = _grouped(items, lambda _: ())
    return Call(
        "extend",
        (keys.active, keys.column("state"), keys.column("run"), keys.column("cancel")),
        (lease_ms, *args),
        _in_item_order(order, LeaseVerdict),
    )


# --- the scheduler's sweeps ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Promotion:
    """What one promote call did and when the next thing will be due."""

    now_ms: int
    moved: int
    next_due_ms: int | None
    next_lease_expiry_ms: int | None


def promote(keys: QueueKeys, limit: int) -> Call[Promotion]:
    """Move due scheduled and retrying tasks to the queued lists."""

    def parse(reply: list[Any]) -> Promotion:
        due, expiry = int(reply[2]), int(reply[3])
        return Promotion(int(reply[0]), int(reply[1]), due if due >= 0 else None, expiry if expiry >= 0 else None)

    return Call(
        "promote",
        (keys.scheduled, keys.retrying, keys.queued, keys.active, keys.column("state"), keys.column("spec")),
        (limit, keys.worker_channel),
        parse,
    )


@dataclass(frozen=True, slots=True)
class Recovery:
    """What one requeue_expired call did."""

    requeued: int
    dead: int
    cancelled: int


def requeue_expired(keys: QueueKeys, limit: int) -> Call[Recovery]:
    """Recover tasks whose lease expired."""
    cols = ("spec", "state", "run", "error", "cancel")
    return Call(
        "requeue_expired",
        (keys.active, keys.queued, keys.dead, *(keys.column(c) for c in cols), keys.cancelled, keys.totals,
         keys.activity),
        (limit, keys.worker_channel),
        lambda reply: Recovery(int(reply[0]), int(reply[1]), int(reply[2])),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Upgrade:
    """What one upgrade_ready call moved, and what is left to move."""

    moved: int
    left: int


def upgrade_ready(keys: QueueKeys, limit: int) -> Call[Upgrade]:
    """Move up to `limit` queued tasks from dtq 0.1's ready set to the queued lists."""
    return Call(
        "upgrade_ready",
        (keys.legacy_ready, keys.queued, keys.column("spec"), keys.column("state"), keys.legacy_prio),
        (limit,),
        lambda reply: Upgrade(int(reply[0]), int(reply[1])),
    )


@dataclass(frozen=True, slots=True)
class Expiry:
    """What one retention sweep deleted."""

    finished: int
    dead: int
    idempotency_keys: int
    more: bool


def expire(keys: QueueKeys, limit: int, retention: RetentionSettings) -> Call[Expiry]:
    """Delete records past their retention, and dead records beyond the cap."""
    return Call(
        "expire",
        (
            keys.succeeded,
            keys.cancelled,
            keys.dead,
            keys.idempotency,
            keys.idempotency_expiry,
            keys.activity,
            keys.unrunnable,
            *keys.columns,
        ),
        (
            limit,
            ms(retention.finished),
            ms(retention.dead),
            retention.dead_max,
            ms(retention.stats),
            retention.dead_unrunnable_max,
        ),
        lambda reply: Expiry(int(reply[0]), int(reply[1]), int(reply[2]), bool(reply[3])),
    )


# --- single-task and admin operations --------------------------------------------------------


class Cancelled(IntEnum):
    """What the cancel script did."""

    NOT_FOUND = -1
    ALREADY_FINAL = 0
    NOW = 1  #: the task was waiting and is cancelled
    REQUESTED = 2  #: the task is running; its worker was asked to stop


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """Cancel's verdict and the task's state afterwards."""

    outcome: Cancelled
    state: str


def cancel(keys: QueueKeys, task_id: str) -> Call[CancelOutcome]:
    """Cancel one task (or ask its worker to)."""
    return Call(
        "cancel",
        (keys.queued, keys.scheduled, keys.retrying, keys.cancelled, keys.column("state"), keys.column("cancel"),
         keys.activity, keys.column("spec"), keys.totals),
        (task_id, keys.worker_channel),
        lambda reply: CancelOutcome(Cancelled(int(reply[0])), _text(reply[1])),
    )  # fmt: skip


def redrive(keys: QueueKeys, ids: Sequence[str]) -> Call[int]:
    """Move dead tasks back to the queued lists; returns how many were dead."""
    cols = ("state", "run", "spec", "cancel")
    return Call(
        "redrive",
        (keys.dead, keys.queued, *(keys.column(c) for c in cols), keys.unrunnable),
        (keys.worker_channel, *ids),
        int,
    )


def purge(keys: QueueKeys, ids: Sequence[str]) -> Call[int]:
    """Delete dead tasks; returns how many were dead."""
    return Call("purge", (keys.dead, keys.unrunnable, *keys.columns), tuple(ids), int)


def inspect(keys: QueueKeys, ids: Sequence[str]) -> Call[list[dict[str, bytes | None]]]:
    """Every column of every task in `ids` (None where unset), plus `finished`, the ms a finished
    task ended (the score in the set of its final state)."""
    names = (*COLUMNS, "finished")

    def parse(reply: list[list[Any]]) -> list[dict[str, bytes | None]]:
        if len(reply) != len(names):
            raise ScriptError(f"inspect returned {len(reply)} lists, expected {len(names)}")
        return [{c: reply[k][n] or None for k, c in enumerate(names)} for n in range(len(ids))]

    return Call("inspect", (*keys.columns, keys.succeeded, keys.cancelled, keys.dead), tuple(ids), parse)


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """How many tasks a queue holds in each state."""

    now_ms: int
    ready_by_priority: tuple[int, ...]
    scheduled: int
    retrying: int
    active: int
    succeeded: int
    cancelled: int
    dead: int
    paused: bool
    oldest_ready_ms: int | None

    @property
    def ready(self) -> int:
        """Ready tasks of every priority."""
        return sum(self.ready_by_priority)

    @property
    def oldest_ready_age(self) -> float:
        """Seconds the oldest ready task has waited (0 when nothing is ready)."""
        return 0.0 if self.oldest_ready_ms is None else max(0, self.now_ms - self.oldest_ready_ms) / 1000


def queue_stats(keys: QueueKeys) -> Call[QueueCounts]:
    """Count a queue in one consistent read."""

    def parse(reply: list[Any]) -> QueueCounts:
        n = [int(v) for v in reply]
        return QueueCounts(
            now_ms=n[0],
            ready_by_priority=tuple(n[1:11]),
            scheduled=n[11],
            retrying=n[12],
            active=n[13],
            succeeded=n[14],
            cancelled=n[15],
            dead=n[16],
            paused=bool(n[17]),
            oldest_ready_ms=n[18] if n[18] >= 0 else None,
        )

    return Call(
        "queue_stats",
        (keys.queued, keys.scheduled, keys.retrying, keys.active, keys.succeeded, keys.cancelled, keys.dead,
         keys.paused, keys.column("spec"), keys.column("state")),
        (),
        parse,
    )  # fmt: skip


def combined_counts(parts: Sequence[QueueCounts]) -> QueueCounts:
    """The counts of a sharded queue: its shards' summed (one part is returned as it is)."""
    if len(parts) == 1:
        return parts[0]
    oldest = [p.oldest_ready_ms for p in parts if p.oldest_ready_ms is not None]
    return QueueCounts(
        now_ms=max(p.now_ms for p in parts),
        ready_by_priority=tuple(sum(level) for level in zip(*(p.ready_by_priority for p in parts), strict=True)),
        scheduled=sum(p.scheduled for p in parts),
        retrying=sum(p.retrying for p in parts),
        active=sum(p.active for p in parts),
        succeeded=sum(p.succeeded for p in parts),
        cancelled=sum(p.cancelled for p in parts),
        dead=sum(p.dead for p in parts),
        paused=all(p.paused for p in parts),
        oldest_ready_ms=min(oldest, default=None),
    )
