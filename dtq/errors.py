"""Every exception dtq raises, under one root.

Operational errors say what went wrong with a request or with Redis; the two task-side
exceptions at the bottom (`Retry`, `Abort`) are control flow a handler raises on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass


class DtqError(Exception):
    """Root of every error dtq raises."""


class ConfigError(DtqError):
    """A setting is missing or invalid; the message names the setting."""


class UnsafeRedisConfig(DtqError):
    """Redis is configured in a way that can silently delete tasks (an eviction policy)."""


class RedisUnavailable(DtqError):
    """Redis cannot be reached, is loading, or refused a write because it is out of memory."""

    def __init__(self, message: str, *, out_of_memory: bool = False) -> None:
        super().__init__(message)
        self.out_of_memory = out_of_memory


class NotReplicated(RedisUnavailable):
    """The primary stored the write, but fewer replicas than DTQ_REDIS_WAIT_REPLICAS acknowledged it in time."""

    def __init__(self, wanted: int, acknowledged: list[int], timeout_ms: int) -> None:
        super().__init__(
            f"stored on the Redis primary, but only {min(acknowledged, default=0)} of {wanted} replica(s) "
            f"acknowledged it within {timeout_ms} ms (DTQ_REDIS_WAIT_REPLICAS); a failover now could lose it. "
            "Resending with the same idempotency key stores nothing twice."
        )
        self.wanted = wanted
        self.acknowledged = acknowledged


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid input field: where it is (`index` within a batch, `field` path) and why."""

    field: str
    message: str
    index: int | None = None

    def __str__(self) -> str:
        where = self.field if self.index is None else f"[{self.index}].{self.field}"
        return f"{where}: {self.message}"


class InvalidTask(DtqError):
    """A task request is invalid; `problems` names every bad field (and batch index)."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class InvalidQueueName(DtqError):
    """A queue name is not 1-64 characters of letters, digits, `_`, `.` or `-`."""


class BulkTakenBack(RedisUnavailable):
    """Part of a multi-call enqueue could not be stored (Redis full), so the parts that were
    stored were taken back: nothing of the request is stored, except `left` (tasks a worker
    claimed before they could be taken back; they run)."""

    def __init__(self, cause: RedisUnavailable, left: list[str]) -> None:
        kept = f"; {len(left)} already claimed by a worker run anyway" if left else ""
        super().__init__(f"{cause}; the tasks of this request that were stored are taken back{kept}",
                         out_of_memory=cause.out_of_memory)  # fmt: skip
        self.left = left


class TooManyQueues(DtqError):
    """Enqueueing would create more queues than DTQ_QUEUES_MAX allows."""

    def __init__(self, refused: list[str], cap: int) -> None:
        shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
        super().__init__(f"{cap} queues exist already (DTQ_QUEUES_MAX); not creating {shown}")
        self.refused = refused
        self.cap = cap


class TaskNotFound(DtqError):
    """No task with this id exists (never did, or its record expired)."""


class TaskFinished(DtqError):
    """The task already reached a final state, so it can no longer be cancelled."""

    def __init__(self, task_id: str, state: str) -> None:
        super().__init__(f"task {task_id} is already {state}")
        self.task_id = task_id
        self.state = state


class ScriptError(DtqError):
    """A Lua script answered with a code its wrapper does not know (a bug, or a foreign key)."""


class TaskControl(DtqError):
    """Base of the exceptions a handler raises on purpose to steer its task."""


class Retry(TaskControl):
    """Try this task again later; `delay` seconds overrides the backoff policy."""

    def __init__(self, delay: float | None = None, reason: str = "retry requested") -> None:
        if delay is not None and delay < 0:
            raise ValueError("Retry delay must be >= 0 seconds")
        super().__init__(reason)
        self.delay = delay


class Abort(TaskControl):
    """Give up on this task now: it goes to the dead-letter queue without further retries."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TaskTimeout(DtqError):
    """The handler ran past its task's timeout."""


class UnknownTask(DtqError):
    """No handler is registered under the task's name."""


class UndecodableTask(DtqError):
    """The stored task record is not valid dtq JSON; it was dead-lettered without running."""


class LeaseExpired(DtqError):
    """The worker running the task stopped renewing its lease (it died, froze or lost Redis)."""
