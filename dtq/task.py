"""The task model: what producers submit, what Redis stores, and what readers get back.

Three shapes, each for one audience:
- `TaskRequest` is what a producer asks for; `prepare()` validates a batch all-or-nothing and
  encodes each item once.
- `TaskSpec` is the immutable part stored in Redis as JSON (msgspec, never pickle); workers
  decode it with a strict schema, so a foreign or corrupt record is rejected, not executed.
- `Task` is the full read model (spec plus state, attempts, outcome and timestamps).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypedDict

import msgspec

from dtq.errors import FieldProblem, InvalidQueueName, InvalidTask
from dtq.ids import new_ids
from dtq.keys import check_queue_name
from dtq.priority import DEFAULT_PRIORITY, HIGHEST_PRIORITY, LOWEST_PRIORITY
from dtq.settings import TaskDefaults
from dtq.text import UNSAFE, UNSAFE_CHARACTERS

DEFAULT_QUEUE = "default"
TASK_NAME_PATTERN = rf"^[^{UNSAFE_CHARACTERS}]+$"  # the rule of _check_name, for JSON schemas
MAX_NAME_LENGTH = 256
MAX_KEY_LENGTH = 256
MIN_TIMEOUT = 0.001
MAX_TIMEOUT = 7 * 86_400.0
MAX_DELAY = 10 * 365 * 86_400.0


class TaskState(StrEnum):
    """Where a task is in its life."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    ACTIVE = "active"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """True once nothing more will happen to the task."""
        return self in (TaskState.SUCCEEDED, TaskState.DEAD, TaskState.CANCELLED)


# What a stored record's missing field means: the record leaves out every field at these values
# (a no-op task is `{"task":"noop"}`), so a backlog of plain tasks costs Redis a few bytes each,
# not a copy of every default (docs/keys.md). They are the record's format, not settings: a
# deployment's own defaults (dtq.settings.TaskDefaults) are written out whenever they differ.
RECORD_PRIORITY = DEFAULT_PRIORITY
RECORD_MAX_RETRIES = 3
RECORD_TIMEOUT = 300.0


class TaskSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """The immutable record a worker needs to run a task, stored as JSON.

    Its id and queue are not in it: the hash field and the key it is stored under say them.
    `priority` comes first, so a script reads it with one anchored match instead of decoding a
    record that may carry a megabyte of payload (include/spec.lua).
    """

    priority: int = RECORD_PRIORITY
    task: str
    max_retries: int = RECORD_MAX_RETRIES
    timeout: float = RECORD_TIMEOUT
    payload: Any = None
    key: str | None = None
    # Records written by dtq 0.1 repeat their id and queue; they are read, never written.
    id: str | None = None
    queue: str | None = None


class TaskError(msgspec.Struct, frozen=True):
    """The last failure of a task."""

    type: str
    message: str
    traceback: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRequest:
    """One task a producer wants run. Unset fields take the handler's, then the global, defaults."""

    task: str
    payload: Any = None
    queue: str | None = None
    priority: int | None = None
    max_retries: int | None = None
    timeout: float | None = None
    key: str | None = None
    delay: float | None = None
    at: datetime | None = None


class EnqueueOptions(TypedDict, total=False):
    """The options of `TaskRequest` as keyword arguments (`Client.enqueue(name, payload, **options)`)."""

    queue: str | None
    priority: int | None
    max_retries: int | None
    timeout: float | None
    key: str | None
    delay: float | None
    at: datetime | None


class PreparedTask(msgspec.Struct, frozen=True):
    """A validated request, encoded once, ready for the enqueue script."""

    id: str
    spec: bytes
    task: str
    queue: str
    priority: int
    key: str | None
    delay_ms: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class Task:
    """Everything known about a task."""

    id: str
    task: str
    queue: str
    state: TaskState
    priority: int
    payload: Any
    max_retries: int
    timeout: float
    key: str | None
    attempts: int
    result: Any
    error: TaskError | None
    worker: str | None
    cancel_requested: bool
    enqueued_at: datetime | None
    scheduled_for: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


_encode = msgspec.json.Encoder().encode


def prepare(requests: Sequence[TaskRequest], defaults: TaskDefaults) -> list[PreparedTask]:
    """Validate every request and encode it; raise `InvalidTask` naming each bad index and field.

    Validation is all-or-nothing: nothing is returned unless every item is valid.
    """
    problems: list[FieldProblem] = []
    prepared: list[PreparedTask] = []
    indexed = len(requests) > 1
    for index, (request, task_id) in enumerate(zip(requests, new_ids(len(requests)), strict=True)):
        item_problems = _check(request)
        if not item_problems:
            item = _encode_one(request, task_id, defaults, item_problems)
            if item is not None:
                prepared.append(item)
        where = index if indexed else None
        problems.extend(FieldProblem(p.field, p.message, where) for p in item_problems)
    if problems:
        raise InvalidTask(problems)
    return prepared


def _check(request: TaskRequest) -> list[FieldProblem]:
    found = [_check_name(request.task), _check_queue(request.queue or DEFAULT_QUEUE)]
    # Most requests set few options: only the ones set are checked.
    if request.priority is not None:
        found.append(_check_int("priority", request.priority, LOWEST_PRIORITY, HIGHEST_PRIORITY))
    if request.max_retries is not None:
        found.append(_check_int("max_retries", request.max_retries, 0, 1000))
    if request.timeout is not None:
        found.append(_check_number("timeout", request.timeout, MIN_TIMEOUT, MAX_TIMEOUT))
    if request.key is not None:
        found.append(_check_key(request.key))
    if request.delay is not None:
        found.append(_check_number("delay", request.delay, 0, MAX_DELAY))
        if request.at is not None:
            found.append(FieldProblem("delay", "give either delay or at, not both"))
    if request.at is not None:
        found.append(_check_at(request.at))
    return [problem for problem in found if problem is not None]


def _check_name(name: object) -> FieldProblem | None:
    if isinstance(name, str) and name in _GOOD_NAMES:
        return None
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH:
        return FieldProblem("task", f"must be a name of 1-{MAX_NAME_LENGTH} characters")
    if UNSAFE.search(name):
        return FieldProblem("task", "must not contain control characters or line separators")
    if len(_GOOD_NAMES) < 10_000:  # a producer uses few names; remember them, boundedly
        _GOOD_NAMES.add(name)
    return None


_GOOD_NAMES: set[str] = set()


def _check_queue(queue: object) -> FieldProblem | None:
    try:
        check_queue_name(queue)  # type: ignore[arg-type]
    except InvalidQueueName as exc:
        return FieldProblem("queue", str(exc))
    return None


def _check_int(field: str, value: object, low: int, high: int) -> FieldProblem | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return FieldProblem(field, f"must be an integer from {low} to {high}")
    return None


def _check_number(field: str, value: object, low: float, high: float) -> FieldProblem | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return FieldProblem(field, "must be a number of seconds")
    if not low <= value <= high:
        return FieldProblem(field, f"must be between {low:g} and {high:g} seconds")
    return None


def _check_key(key: object) -> FieldProblem | None:
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH):
        return FieldProblem("key", f"must be a string of 1-{MAX_KEY_LENGTH} characters")
    return None


def _check_at(at: object) -> FieldProblem | None:
    if at is None:
        return None
    if not isinstance(at, datetime) or at.tzinfo is None:
        return FieldProblem("at", "must be a datetime with a time zone")
    if too_far_ahead(at):
        return FieldProblem("at", f"must be at most {MAX_DELAY / 86_400 / 365:g} years from now (as delay is)")
    return None


def too_far_ahead(at: datetime) -> bool:
    """Whether `at` is further away than the longest delay (a past time is fine: it runs now)."""
    return at.timestamp() - time.time() > MAX_DELAY


def _encode_one(
    request: TaskRequest, task_id: str, defaults: TaskDefaults, problems: list[FieldProblem]
) -> PreparedTask | None:
    priority = defaults.priority if request.priority is None else request.priority
    spec = TaskSpec(
        task=request.task,
        priority=priority,
        max_retries=defaults.max_retries if request.max_retries is None else request.max_retries,
        timeout=_timeout(defaults.timeout if request.timeout is None else request.timeout),
        payload=request.payload,
        key=request.key,
    )
    try:
        encoded = _encode(spec)
    except (TypeError, msgspec.EncodeError, OverflowError) as exc:
        problems.append(FieldProblem("payload", f"is not JSON-serialisable: {exc}"))
        return None
    if len(encoded) > defaults.max_payload_bytes:
        problems.append(
            FieldProblem("payload", f"encodes to {len(encoded)} bytes, over the {defaults.max_payload_bytes} limit")
        )
        return None
    return PreparedTask(
        id=task_id,
        spec=encoded,
        task=request.task,
        queue=request.queue or DEFAULT_QUEUE,
        priority=priority,
        key=request.key,
        delay_ms=round((request.delay or 0) * 1000),
        at_ms=to_ms(request.at) if request.at is not None else 0,
    )


def _timeout(seconds: float) -> float:
    # omit_defaults compares floats by identity: the record's own default object is left out.
    return RECORD_TIMEOUT if seconds == RECORD_TIMEOUT else float(seconds)


_decode_spec = msgspec.json.Decoder(TaskSpec).decode


def decode_spec(raw: bytes) -> TaskSpec:
    """Decode a stored record; raises `msgspec.DecodeError`/`ValidationError` if it is not ours."""
    return _decode_spec(raw)


# The name counted for a record that is missing or not a dtq task (include/spec.lua's UNKNOWN_TASK).
UNKNOWN_TASK_NAME = "?"


def stored_name(raw: bytes | None) -> str:
    """The task name of a stored record, or UNKNOWN_TASK_NAME if it is missing or not ours."""
    try:
        return decode_spec(raw).task if raw is not None else UNKNOWN_TASK_NAME
    except (msgspec.DecodeError, msgspec.ValidationError):
        return UNKNOWN_TASK_NAME


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    return round(moment.timestamp() * 1000)


def from_ms(ms: int | None) -> datetime | None:
    """The UTC datetime of an epoch-milliseconds value (None stays None)."""
    if ms is None:
        return None
    # Readers must survive any stored value: one far-future time once made every read of its
    # queue fail ("year 10000 is out of range"). Out of datetime's range is shown at its edge.
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return LATEST if ms > 0 else EARLIEST


EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def rfc3339(moment: datetime | None) -> str | None:
    """RFC 3339 UTC text with milliseconds, e.g. 2026-11-28T09:17:33.123Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def public_shape(task: Task) -> dict[str, Any]:
    """The task as every reader sees it, one home for its shape: the REST API's body (its schema
    is the API's TaskOut), `dtq status --json` and the dashboard (ui/src/api.ts)."""
    error = task.error
    return {
        "id": task.id,
        "task": task.task,
        "queue": task.queue,
        "state": task.state.value,
        "priority": task.priority,
        "payload": task.payload,
        "max_retries": task.max_retries,
        "timeout": task.timeout,
        "key": task.key,
        "attempts": task.attempts,
        "result": task.result,
        "error": None
        if error is None
        else {"type": error.type, "message": error.message, "traceback": error.traceback},
        "worker": task.worker,
        "cancel_requested": task.cancel_requested,
        "enqueued_at": rfc3339(task.enqueued_at),
        "scheduled_for": rfc3339(task.scheduled_for),
        "started_at": rfc3339(task.started_at),
        "finished_at": rfc3339(task.finished_at),
    }
