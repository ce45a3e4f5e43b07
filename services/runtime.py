"""What every dtq process shares: reading settings, logging set-up, signals, exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

import orjson

from dtq.errors import ConfigError, UnsafeRedisConfig
from dtq.settings import LogSettings, Settings
from dtq.text import visible, visible_in_json
from dtq.upkeep import stop_tasks

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
LEFTOVER_GRACE = 1.0  # seconds what a process's main left running gets to stop before the exit
log = logging.getLogger("dtq")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # orjson leaves U+2028, U+2029 and NEL raw, and splitlines-style readers break lines there
        return visible_in_json(orjson.dumps(entry).decode())


class TextFormatter(logging.Formatter):
    """One record per line: the message's line breaks and control characters are escaped, so a
    payload or an error message cannot forge a record. A traceback keeps its own lines, each
    escaped the same way."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return visible(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        # The first line break is where the (escaped, one-line) record ends and its traceback
        # begins; exc_text may have been cached unescaped by another formatter, so escape here.
        head, newline, tail = super().format(record).partition("\n")
        return head + newline + "\n".join(visible(line) for line in tail.split("\n"))


def configure_logging(settings: LogSettings) -> None:
    """Log to stderr in the configured format and level."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        formatter = JsonFormatter()
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, or exit 2 with the message naming the bad setting."""
    try:
        return Settings.from_env(**overrides)
    except ConfigError as exc:
        fail(str(exc))


def fail(message: str, code: int = EXIT_CONFIG) -> NoReturn:
    """Print `message` to stderr and exit."""
    print(f"dtq: {message}", file=sys.stderr)
    raise SystemExit(code)


def run_process(main: Coroutine[Any, Any, None], on_signal: Callable[[int], None]) -> None:
    """Run `main` on a fresh event loop; SIGTERM/SIGINT call `on_signal(count)` instead of killing.

    Configuration problems found while running exit 2 with their message; anything else
    propagates (a traceback, exit 1). When `main` is done, what it left behind gets
    LEFTOVER_GRACE seconds: a task that ignores its cancellation, or a handler's thread that
    never returns (a thread cannot be stopped), must not keep the process alive, so the process
    then exits at once, without waiting for them.
    """

    async def wrapped() -> None:
        loop = asyncio.get_running_loop()
        count = 0

        def handle() -> None:
            nonlocal count
            count += 1
            on_signal(count)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, handle)
        await main

    loop = (event_loop_factory() or asyncio.new_event_loop)()
    try:
        loop.run_until_complete(wrapped())
    except (ConfigError, UnsafeRedisConfig) as exc:
        fail(str(exc))
    finally:
        stuck = _close(loop)
    threads = _unfinished_threads(time.monotonic() + LEFTOVER_GRACE)
    if stuck or threads:
        log.warning("exiting without %d task(s) and thread(s) %s that did not stop", stuck, ", ".join(threads))
        logging.shutdown()
        sys.stdout.flush()
        os._exit(EXIT_OK)


def _close(loop: asyncio.AbstractEventLoop) -> int:
    """Cancel what is still running, wait LEFTOVER_GRACE for it, close the loop; returns how many
    tasks did not stop (the loop is then left open: closing it would wait for them). A busy
    thread of the default executor is left to `_unfinished_threads`."""
    stuck = loop.run_until_complete(stop_tasks(asyncio.all_tasks(loop), LEFTOVER_GRACE))
    if stuck:
        return len(stuck)
    loop.run_until_complete(loop.shutdown_asyncgens())
    with contextlib.suppress(TimeoutError):
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_default_executor(), LEFTOVER_GRACE))
    loop.close()
    return 0


def _unfinished_threads(deadline: float) -> list[str]:
    """Threads the interpreter would wait for at exit that are still running at `deadline`."""
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    for thread in others:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in others if t.is_alive()]


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (it roughly halves the event loop's own overhead)."""
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up, absent on some platforms
    except ImportError:
        return None
    return uvloop.new_event_loop
