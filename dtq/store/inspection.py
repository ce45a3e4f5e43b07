"""Reading state back: whole task records, queue counts, and the worker registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from dtq.runs import Run
from dtq.task import Task, TaskError, TaskSpec, TaskState, decode_spec, from_ms

_decode_error = msgspec.json.Decoder(TaskError).decode
_decode_any = msgspec.json.decode


def _int(raw: bytes | None) -> int | None:
    """A stored number; None when it is missing or is not a finite number (shown, not raised)."""
    if raw is None:
        return None
    try:
        return int(float(raw))
    except (ValueError, OverflowError):
        return None


def enqueued_ms(task_id: str) -> int | None:
    """The creation time a UUIDv7 id carries in its first 48 bits (the producer's clock)."""
    digits = task_id.replace("-", "")
    try:
        return int(digits[:12], 16) if len(digits) == 32 and digits[12] == "7" else None
    except ValueError:
        return None


def record_from_columns(task_id: str, queue: str, cols: Mapping[str, bytes | None]) -> Task | None:
    """Assemble a `Task` from its columns; None if the task does not exist.

    A record that does not decode is still shown (its name as `<undecodable>`), so an
    operator can inspect and purge it from the dead-letter queue.
    """
    state, raw_spec = cols.get("state"), cols.get("spec")
    if raw_spec is None and state is None:
        return None
    spec: TaskSpec | None = None
    if raw_spec is not None:
        try:
            spec = decode_spec(raw_spec)
        except (msgspec.DecodeError, msgspec.ValidationError):
            spec = None
    run = Run.parse(cols.get("run"))
    return Task(
        id=task_id,
        task=spec.task if spec else "<undecodable>",
        queue=queue,
        state=_state(state),
        priority=spec.priority if spec else 0,
        payload=spec.payload if spec else None,
        max_retries=spec.max_retries if spec else 0,
        timeout=spec.timeout if spec else 0.0,
        key=spec.key if spec else None,
        attempts=run.attempts,
        result=_decode_result(cols.get("result")),
        error=_decode_task_error(cols.get("error")),
        worker=run.worker,
        cancel_requested=cols.get("cancel") is not None,
        enqueued_at=from_ms(enqueued_ms(task_id)),
        scheduled_for=from_ms(_int(cols.get("due"))),
        started_at=from_ms(run.started_ms),
        finished_at=from_ms(_int(cols.get("finished"))),
    )


def _state(raw: bytes | None) -> TaskState:
    # A queued task has no state field: the field is what costs (store/lua/include/queued.lua).
    return TaskState.QUEUED if raw is None else TaskState(raw.decode())


def _decode_result(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return _decode_any(raw)
    except msgspec.DecodeError:
        return raw.decode(errors="replace")


def _decode_task_error(raw: bytes | None) -> TaskError | None:
    if raw is None:
        return None
    try:
        return _decode_error(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return TaskError(type="Unknown", message=raw.decode(errors="replace"))
