"""Handlers: `App` maps task names to functions. Names are looked up, never imported."""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import dtq.builtins
from dtq.backoff import Backoff
from dtq.errors import ConfigError
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

    `builtins=True` adds the built-in tasks `echo`, `sleep` and `fail` (see dtq.builtins), which
    production workers run only when DTQ_BUILTIN_TASKS says so; your own names take precedence.
    """

    def __init__(self, *, builtins: bool = False) -> None:
        self._tasks: dict[str, TaskDefinition] = {}
        if builtins:
            dtq.builtins.register(self)

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
        return sorted({t.queue for t in self._tasks.values() if t.fn not in dtq.builtins.HANDLERS})

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


def load_handlers(path: str | None, *, builtins: bool) -> App:
    """The App a process runs: the user's (`path`, DTQ_APP) or an empty one, plus the built-in
    tasks when `builtins` (DTQ_BUILTIN_TASKS)."""
    app = App.load(path) if path else App()
    if builtins:
        dtq.builtins.register(app)
    return app
