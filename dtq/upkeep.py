"""The one loop every periodic chore runs in: do it, log a failure, wait, repeat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from dtq.errors import RedisUnavailable

log = logging.getLogger("dtq.upkeep")


async def every(
    interval: float, name: str, step: Callable[[], Awaitable[None]], stop: asyncio.Event | None = None
) -> None:
    """Run `step` every `interval` seconds until `stop` is set (without one: until cancelled); a
    failing step never ends the loop."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await step()
        except RedisUnavailable as exc:
            log.warning("%s: %s; trying again in %.1fs", name, exc, interval)
        except Exception:
            log.exception("%s failed; trying again in %.1fs", name, interval)
        await sleep_unless(stop, interval)


async def connect_patiently(connect: Callable[[], Awaitable[object]], stop: asyncio.Event, retry_every: float) -> None:
    """Run `connect` until it succeeds or `stop` is set, waiting `retry_every` seconds after each
    RedisUnavailable: a service started before its Redis waits for it instead of crashing."""
    while not stop.is_set():
        try:
            await connect()
            return
        except RedisUnavailable as exc:
            log.warning("cannot reach Redis (%s); retrying in %.0fs", exc, retry_every)
            await sleep_unless(stop, retry_every)


async def sleep_unless(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds` for `event`; True if it was set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def first_of(*waits: Awaitable[object], timeout: float | None = None) -> None:
    """Wait until the first of `waits` is done (or `timeout` seconds pass), then cancel the rest."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def stop_tasks(tasks: Collection[asyncio.Task[Any]], grace: float = 3.0) -> set[asyncio.Task[Any]]:
    """Cancel `tasks` and wait for them, at most `grace` seconds: code that swallows a
    cancellation must not be able to hang a process's shutdown. Returns those left running."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return set()
    _, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        log.warning("task %s did not stop within %.1fs of its cancellation; leaving it", task.get_name(), grace)
    return pending
