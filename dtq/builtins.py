"""The built-in tasks `echo`, `sleep` and `fail`: for `dtq dev`, demos and tests.

They are not registered in production unless asked for (`DTQ_BUILTIN_TASKS=true`, or
`App(builtins=True)`): registered everywhere, they let any producer hold every worker slot with
`sleep` and fill the dead-letter queue with `fail`. `sleep` ends early when its task is
cancelled, so even where they are on, a cancel frees the slot.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from dtq.context import TaskContext
from dtq.errors import Abort

if TYPE_CHECKING:
    from dtq.registry import App

LONGEST_SLEEP = 86_400


def echo(payload: Any) -> Any:
    """Return the payload."""
    return payload


async def sleep(payload: Any, ctx: TaskContext) -> None:
    """Sleep `{"seconds": s}`, or until the task is cancelled."""
    seconds = payload.get("seconds") if isinstance(payload, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= LONGEST_SLEEP:
        raise Abort(f'sleep needs a payload like {{"seconds": 1.5}} (0 to {LONGEST_SLEEP})')
    try:
        await asyncio.wait_for(ctx.wait_cancelled(), timeout=seconds)
    except TimeoutError:
        return
    raise Abort("cancelled while sleeping")


def fail(payload: Any) -> None:
    """Raise, with `{"message": ...}` if given."""
    message = payload.get("message") if isinstance(payload, dict) else None
    raise RuntimeError(message or "the fail task always fails")


def register(app: App) -> None:
    """Add the built-ins to `app`, leaving any task of the same name the app already has."""
    known = set(app.names())
    if "echo" not in known:
        app.task(name="echo")(echo)
    if "sleep" not in known:
        app.task(name="sleep")(sleep)
    if "fail" not in known:
        app.task(name="fail", max_retries=0)(fail)


HANDLERS = (echo, sleep, fail)
