"""The `dtq worker` process: runs handlers until SIGTERM, then drains and exits."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dtq import heartbeat
from dtq.registry import App, load_handlers
from dtq.settings import Settings
from dtq.worker import Worker
from services.runtime import EXIT_FAILED, EXIT_OK, configure_logging, fail, run_process

log = logging.getLogger("dtq.worker")


def load_app(settings: Settings) -> App:
    """The user's App (`--app` or DTQ_APP), plus the built-ins when DTQ_BUILTIN_TASKS is on."""
    try:
        return load_handlers(settings.app, builtins=settings.builtin_tasks)
    except Exception as exc:  # an import error in user code is a configuration problem here
        fail(str(exc))


def run(settings: Settings, *, queues: Sequence[str] | None, concurrency: int | None, burst: bool) -> None:
    """Run a worker until signalled (first signal: drain; second: hand back at once)."""
    configure_logging(settings.log)
    app = load_app(settings)
    worker = Worker(app, settings, queues=queues, concurrency=concurrency, burst=burst)

    def on_signal(count: int) -> None:
        log.info("signal received: %s", "stopping now" if count > 1 else "draining")
        worker.request_stop(now=count > 1)

    run_process(worker.run(), on_signal)


def check(settings: Settings) -> int:
    """Liveness probe: 0 if this container's worker stamped its health file recently, else 1."""
    fresh = heartbeat.is_fresh(settings.worker.health_file)
    return EXIT_OK if fresh else EXIT_FAILED
