"""Running one handler: call it under its timeout and turn whatever happens into an outcome.

Nothing here touches Redis. Async handlers run on the event loop and are cancelled at their
timeout; sync handlers run in a thread pool, and a thread past its timeout cannot be stopped,
so it is abandoned (with a warning) and its slot stays taken until it returns.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from dtq.context import TaskContext
from dtq.errors import Abort, Retry, TaskTimeout
from dtq.registry import TaskDefinition
from dtq.task import TaskError

log = logging.getLogger("dtq.worker")

MAX_TRACEBACK = 16_384

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Succeeded:
    """The handler returned; `result` is its JSON (None when it returned None)."""

    result: bytes | None


@dataclass(frozen=True, slots=True)
class Failed:
    """The handler raised (or could not run). `final`: no retry may help."""

    error: TaskError
    retry_delay: float | None = None
    final: bool = False


Outcome = Succeeded | Failed


def describe(exc: BaseException, *, with_traceback: bool = True) -> TaskError:
    """A TaskError for an exception: its type, message and (trimmed) traceback."""
    text = "".join(traceback.format_exception(exc)) if with_traceback else None
    if text and len(text) > MAX_TRACEBACK:
        text = "...\n" + text[-MAX_TRACEBACK:]
    return TaskError(type=type(exc).__name__, message=str(exc), traceback=text)


class ThreadRunner:
    """The pool sync handlers run in; tells `on_abandoned` and `on_returned` about threads left
    running past their timeout (the worker's slots count them)."""

    def __init__(self, size: int, on_abandoned: Callable[[], None], on_returned: Callable[[], None]) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=size, thread_name_prefix="dtq-task")
        self._on_abandoned = on_abandoned
        self._on_returned = on_returned

    async def run(self, call: Callable[[], Any]) -> Any:
        """Run `call` in a thread. If the caller is cancelled first, the thread cannot be stopped:
        it is abandoned, and counted until it returns."""
        future = self._pool.submit(call)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if not future.done():
                self._on_abandoned()
                loop = asyncio.get_running_loop()
                future.add_done_callback(lambda _: self._notify(loop))
            raise

    def _notify(self, loop: asyncio.AbstractEventLoop) -> None:
        # If the worker already stopped and closed its loop, there is nobody left to tell.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._on_returned)

    def shutdown(self) -> None:
        """Stop accepting work; running threads are not waited for."""
        self._pool.shutdown(wait=False, cancel_futures=True)


class Deadline:
    """When a running task must stop. The worker checks every deadline on one timer (see
    `Worker._enforce_deadlines`) instead of arming a timer per task, which matters when a worker
    runs tens of thousands of short tasks a second; timeouts therefore fire up to one sweep late."""

    __slots__ = ("at", "passed")

    def __init__(self, at: float) -> None:
        self.at = at  # event-loop time
        self.passed = False


async def execute(
    definition: TaskDefinition, payload: Any, ctx: TaskContext, deadline: Deadline, threads: ThreadRunner
) -> Outcome:
    """Run the handler and classify what happened.

    The caller cancels the running task when `deadline` passes (after setting `passed`); any other
    cancellation (shutdown) propagates.
    """
    kwargs = {"ctx": ctx} if definition.wants_context else {}
    try:
        if definition.is_async:
            result = await definition.fn(payload, **kwargs)
        else:
            result = await threads.run(functools.partial(definition.fn, payload, **kwargs))
    except asyncio.CancelledError:
        if not deadline.passed:
            raise
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        if not definition.is_async:
            log.warning("task %s (%s) ran past its timeout; its thread is abandoned", ctx.id, ctx.task)
        limit = f"{ctx.timeout:g}s" if ctx.timeout else "its timeout"
        return Failed(describe(TaskTimeout(f"ran past its timeout of {limit}"), with_traceback=False))
    except Retry as exc:
        return Failed(describe(exc, with_traceback=False), retry_delay=exc.delay)
    except Abort as exc:
        return Failed(describe(exc), final=True)
    except Exception as exc:
        return Failed(describe(exc))
    return encode_result(result)


def encode_result(result: Any) -> Outcome:
    """The JSON of a handler's return value, or a failure if it has none."""
    if result is None:
        return Succeeded(None)
    try:
        return Succeeded(_encode(result))
    except (TypeError, msgspec.EncodeError, OverflowError) as exc:
        return Failed(
            describe(TypeError(f"the handler's result is not JSON-serialisable: {exc}"), with_traceback=False)
        )
