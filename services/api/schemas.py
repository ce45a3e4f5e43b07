"""Request and response bodies of the REST API, separate from the stored task model.

Request models validate exactly what their JSON schema promises: strict types (a string is not
an integer), unknown fields rejected (so a typo like `prority` is caught), and the original
API's `"priority": true` accepted as the highest priority (false as the default).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    WithJsonSchema,
    model_validator,
)
from pydantic.config import JsonDict

from dtq.keys import QUEUE_PATTERN
from dtq.priority import HIGHEST_PRIORITY, LOWEST_PRIORITY, PRIORITY_LEVELS, from_flag
from dtq.task import (
    MAX_DELAY,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_TIMEOUT,
    MIN_TIMEOUT,
    TASK_NAME_PATTERN,
    TaskRequest,
)
from services.api.outline import INT_MAX, INT_MIN

# Reads and admin routes also take the physical shards of a sharded queue (SHARD_PATTERN).


def _integral(value: object) -> int | None:
    """JSON's integers, which include numbers like 3.0; never booleans or strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _priority(value: object) -> int:
    if isinstance(value, bool):
        return from_flag(value)
    number = _integral(value)
    if number is not None and number in PRIORITY_LEVELS:
        return number
    raise ValueError(
        f"must be true, false, or an integer from {LOWEST_PRIORITY} to {HIGHEST_PRIORITY}"
        f" ({HIGHEST_PRIORITY} most urgent)"
    )


def _integer_between(low: int, high: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        number = _integral(value)
        if number is None or not low <= number <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return number

    return check


def _seconds_between(low: float, high: float) -> Callable[[object], float]:
    def check(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number of seconds")
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"must be between {low:g} and {high:g} seconds")
        return float(value)

    return check


def _year_pattern() -> str:
    """The years a `time` may have: 1970 to eight years ahead. Eight, because every moment of
    those years is within the ten years a delay may span (leap days included), so the schema
    can promise it: a JSON schema cannot say "at most ten years from now"."""
    last = datetime.now(UTC).year + 8
    return "(" + "|".join(str(year) for year in range(1970, last + 1)) + ")"


RFC3339_PATTERN = (
    rf"^{_year_pattern()}-\d{{2}}-\d{{2}}[Tt]\d{{2}}:\d{{2}}:\d{{2}}(\.\d{{1,9}})?([Zz]|[+-]\d{{2}}:\d{{2}})$"
)
_RFC3339 = re.compile(RFC3339_PATTERN)


def _rfc3339_text(value: object) -> object:
    # pydantic alone would also take "1700000000" (epoch seconds) and dates without a time.
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError(
            "must be an RFC 3339 date-time with a time zone, e.g. 2026-01-31T09:30:00Z, from 1970 to 8 years ahead"
        )
    return value


# "." and ".." match the pattern but are refused (dtq.keys.DOT_SEGMENTS): relative URLs break.
QUEUE_SCHEMA: JsonDict = {"type": "string", "pattern": QUEUE_PATTERN, "not": {"enum": [".", ".."]}}
QueueField = Annotated[StrictStr, Field(pattern=QUEUE_PATTERN), WithJsonSchema(QUEUE_SCHEMA)]

# Each field type validates exactly what its JSON schema says, so the OpenAPI document and the
# API agree (schemathesis checks both directions).
Priority = Annotated[
    int,
    BeforeValidator(_priority),
    WithJsonSchema(
        {
            "anyOf": [{"type": "boolean"}, {"type": "integer", "minimum": 0, "maximum": 9}],
            "description": "0-9, 9 most urgent; true means 9 and false means 5 (the original API).",
        }
    ),
]
MaxRetries = Annotated[
    int,
    BeforeValidator(_integer_between(0, 1000)),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 1000, "description": "Retries after the first."}),
]
Delay = Annotated[
    float,
    BeforeValidator(_seconds_between(0, MAX_DELAY)),
    WithJsonSchema(
        {"type": "number", "minimum": 0, "maximum": MAX_DELAY, "description": "Run after this many seconds."}
    ),
]
Timeout = Annotated[
    float,
    BeforeValidator(_seconds_between(MIN_TIMEOUT, MAX_TIMEOUT)),
    WithJsonSchema(
        {"type": "number", "minimum": MIN_TIMEOUT, "maximum": MAX_TIMEOUT, "description": "Seconds a handler may run."}
    ),
]
Time = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_text),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}),
]
# Any JSON value whose numbers are within what the body reader keeps exactly (outline.py). The
# app's OpenAPI document gives it to `payload` (pydantic would try to resolve the reference).
PAYLOAD_DESCRIPTION = "Any JSON value, given to the handler (numbers within 64 bits)."
JSON_VALUE_REF: JsonDict = {"$ref": "#/components/schemas/JsonValue"}
JSON_VALUE: JsonDict = {
    "anyOf": [
        {"type": ["string", "boolean", "null"]},
        {"type": "number", "minimum": INT_MIN, "maximum": INT_MAX},
        {"type": "array", "items": JSON_VALUE_REF},
        {"type": "object", "additionalProperties": JSON_VALUE_REF},
    ]
}
NOT_BOTH: JsonDict = {
    "not": {"required": ["delay", "time"], "properties": {"delay": {"type": "number"}, "time": {"type": "string"}}}
}


class TaskIn(BaseModel):
    """One task to run."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=NOT_BOTH)

    task: Annotated[
        StrictStr,
        Field(min_length=1, max_length=MAX_NAME_LENGTH, pattern=TASK_NAME_PATTERN, description="Handler name."),
    ]
    payload: Any = Field(None, description=PAYLOAD_DESCRIPTION)
    priority: Priority | None = None
    queue: QueueField | None = Field(None, description="Default: default.")
    delay: Delay | None = None
    time: Time | None = Field(None, description="Run at this RFC 3339 time (a past time runs now).")
    max_retries: MaxRetries | None = None
    timeout: Timeout | None = None
    key: Annotated[StrictStr, Field(min_length=1, max_length=MAX_KEY_LENGTH)] | None = Field(
        None, description="Idempotency key: a repeat within its TTL returns the first task."
    )

    @model_validator(mode="after")
    def _one_way_to_schedule(self) -> TaskIn:
        if self.delay is not None and self.time is not None:
            raise ValueError("give either delay or time, not both")
        return self

    def request(self, key: str | None = None) -> TaskRequest:
        """The core's request for this body (`key` from the Idempotency-Key header wins)."""
        return TaskRequest(
            task=self.task,
            payload=self.payload,
            queue=self.queue,
            priority=self.priority,
            max_retries=self.max_retries,
            timeout=self.timeout,
            key=key or self.key,
            delay=self.delay,
            at=self.time,
        )


SCHEDULED: JsonDict = {
    **NOT_BOTH,
    "anyOf": [
        {"required": ["time"], "properties": {"time": {"type": "string"}}},
        {"required": ["delay"], "properties": {"delay": {"type": "number"}}},
    ],
}


class ScheduledTaskIn(TaskIn):
    """One task to run later: `time` or `delay` is required."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=SCHEDULED)

    @model_validator(mode="after")
    def _needs_a_time(self) -> ScheduledTaskIn:
        if self.delay is None and self.time is None:
            raise ValueError("a scheduled task needs time (RFC 3339) or delay (seconds)")
        return self


class TaskAccepted(BaseModel):
    """The task a request is now (the first task, for a repeated idempotency key)."""

    id: str
    state: str


class BulkAccepted(BaseModel):
    """Ids of the tasks, in input order."""

    ids: list[str]


class TaskErrorOut(BaseModel):
    """The last failure of a task."""

    type: str
    message: str
    traceback: str | None = None


class TaskOut(BaseModel):
    """Everything known about a task; times are RFC 3339 UTC with milliseconds."""

    id: str
    task: str
    queue: str
    state: str
    priority: int
    payload: Any = None
    max_retries: int
    timeout: float
    key: str | None = None
    attempts: int
    result: Any = None
    error: TaskErrorOut | None = None
    worker: str | None = None
    cancel_requested: bool
    enqueued_at: str | None = None
    scheduled_for: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class CancelOut(BaseModel):
    """`cancelled`, or `active` when the running handler was asked to stop."""

    id: str
    state: str
    cancel_requested: bool


class QueueOut(BaseModel):
    """One queue's counts."""

    name: str
    ready: int
    ready_by_priority: dict[str, int] = Field(description="Priority (0-9) to ready tasks.")
    scheduled: int
    active: int
    retrying: int
    dead: int
    succeeded: int = Field(description="Succeeded tasks still retained.")
    cancelled: int
    oldest_ready_age: float = Field(description="Seconds the oldest ready task has waited.")
    paused: bool


class QueuesOut(BaseModel):
    """Every queue."""

    queues: list[QueueOut]


class DeadPageOut(BaseModel):
    """Dead tasks, newest first; pass `next_cursor` as `cursor` for the next page."""

    tasks: list[TaskOut]
    next_cursor: str | None = None


class Counted(BaseModel):
    """How many tasks an operation affected."""

    count: int


class WorkerOut(BaseModel):
    """One live worker, from its last heartbeat."""

    id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    in_flight: int
    processed: int
    failed: int
    state: str
    started_at: str | None
    heartbeat_age: float


class WorkersOut(BaseModel):
    """Live workers."""

    workers: list[WorkerOut]


class Health(BaseModel):
    """Liveness or readiness."""

    status: str
    detail: str | None = None


class ErrorDetail(BaseModel):
    """One problem with the request: where (`field`, `index` in a bulk body) and what."""

    field: str | None = None
    index: int | None = None
    message: str


class ErrorInfo(BaseModel):
    """Machine-readable `code`, human `message`, and per-field `details`."""

    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorOut(BaseModel):
    """The one shape of every error response."""

    error: ErrorInfo


class TaskListOut(BaseModel):
    """A page of a queue's tasks in one state; pass `next_cursor` as `cursor` for the next."""

    tasks: list[TaskOut]
    total: int = Field(description="Tasks in this state (before the name and priority filters).")
    next_cursor: int | None = None


class MinuteOut(BaseModel):
    """Counts of one minute; `processed` = succeeded + failed attempts."""

    start: str
    processed: int
    enqueued: int
    succeeded: int
    failed: int
    retried: int
    dead: int
    cancelled: int


class ActivityOut(BaseModel):
    """Per-minute counts, oldest first."""

    minutes: list[MinuteOut]
