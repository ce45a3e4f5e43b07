"""Handlers: `App` maps task names to functions. Names are looked up, never imported."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from dtq.backoff import Backoff
from dtq.errors import Abort, ConfigError
from dtq.keys import check_queue_name

log = logging.getLogger("dtq.tasks")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    """A registered handler and the defaults its tasks get."""

    name: str
    fn: Callable[..., Any]
    queue: str
    priority: int | None
    max_retries: int | None
    timeout: float | None
    backoff: Backoff | None
    is_async: bool
    wants_context: bool


class App:
    """A registry of handlers: `@app.task` to add one, `app.get(name)` to find it.

    Every App knows the built-in tasks `echo` (returns its payload), `sleep`
    (`{"seconds": s}`) and `fail` (always raises); your own names take precedence.
    """

    def __init__(self, *, builtins: bool = True) -> None:
        self._tasks: dict[str, TaskDefinition] = {}
        if builtins:
            self.task(name="echo")(_echo)
            self.task(name="sleep")(_sleep)
            self.task(name="fail", max_retries=0)(_fail)

    @overload
    def task(self, fn: F, /) -> F: ...

    @overload
    def task(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        queue: str = "default",
        priority: int | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        backoff: Backoff | None = None,
    ) -> Callable[[F], F]: ...

    def task(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        queue: str = "default",
        priority: int | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        backoff: Backoff | None = None,
    ) -> F | Callable[[F], F]:
        """Register a handler (`@app.task` or `@app.task(name=..., queue=..., ...)`).

        The handler receives the payload as its first argument; if it has a parameter named
        `ctx` it also receives a `TaskContext`. `async def` handlers run on the event loop,
        plain functions in the worker's thread pool.
        """
        check_queue_name(queue)
        if priority is not None and not 0 <= priority <= 9:
            raise ConfigError(f"task {name}: priority must be 0-9")

        def register(func: F) -> F:
            task_name = name or func.__name__
            self._tasks[task_name] = TaskDefinition(
                name=task_name,
                fn=func,
                queue=queue,
                priority=priority,
                max_retries=max_retries,
                timeout=timeout,
                backoff=backoff,
                is_async=inspect.iscoroutinefunction(func),
                wants_context="ctx" in inspect.signature(func).parameters,
            )
            return func

        return register(fn) if fn is not None else register

    def get(self, name: str) -> TaskDefinition | None:
        """The handler registered under `name`, if any."""
        return self._tasks.get(name)

    def names(self) -> list[str]:
        """Every registered task name."""
        return sorted(self._tasks)

    def queues(self) -> list[str]:
        """The queues named by registered handlers other than the built-ins."""
        return sorted({t.queue for t in self._tasks.values() if t.fn not in _BUILTINS})

    @staticmethod
    def load(path: str) -> App:
        """Import `module:attribute` naming an App (the operator's DTQ_APP / --app setting)."""
        module_name, _, attribute = path.partition(":")
        if not module_name or not attribute:
            raise ConfigError(f"DTQ_APP / --app must look like module:attribute, got {path!r}")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"DTQ_APP / --app: cannot import {module_name!r}: {exc}") from exc
        app = getattr(module, attribute, None)
        if not isinstance(app, App):
            raise ConfigError(f"DTQ_APP / --app: {path!r} is not a dtq.App")
        return app


def _echo(payload: Any) -> Any:
    return payload


async def _sleep(payload: Any) -> None:
    seconds = payload.get("seconds") if isinstance(payload, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 86_400:
        raise Abort('sleep needs a payload like {"seconds": 1.5} (0 to 86400)')
    await asyncio.sleep(seconds)


def _fail(payload: Any) -> None:
    message = payload.get("message") if isinstance(payload, dict) else None
    raise RuntimeError(message or "the fail task always fails")


_BUILTINS = (_echo, _sleep, _fail)
