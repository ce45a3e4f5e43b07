"""What every dtq process shares: reading settings, logging set-up, signals, exit codes."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

import orjson

from dtq.errors import ConfigError, UnsafeRedisConfig
from dtq.settings import LogSettings, Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


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
        return orjson.dumps(entry).decode()


def configure_logging(settings: LogSettings) -> None:
    """Log to stderr in the configured format and level."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        formatter = JsonFormatter()
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
    propagates (a traceback, exit 1).
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

    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(wrapped())
    except (ConfigError, UnsafeRedisConfig) as exc:
        fail(str(exc))


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (it roughly halves the event loop's own overhead)."""
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up, absent on some platforms
    except ImportError:
        return None
    return uvloop.new_event_loop
