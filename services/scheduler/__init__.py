"""The `dtq scheduler` process: promotes due tasks and recovers expired leases until SIGTERM."""

from __future__ import annotations

from dtq import heartbeat
from dtq.scheduler import Scheduler
from dtq.settings import Settings
from services.runtime import EXIT_FAILED, EXIT_OK, configure_logging, run_process


def run(settings: Settings) -> None:
    """Run a scheduler until signalled. Any number may run at once."""
    configure_logging(settings.log)
    scheduler = Scheduler(settings)
    run_process(scheduler.run(), lambda _count: scheduler.request_stop())


def check(settings: Settings) -> int:
    """Liveness probe: 0 if this container's scheduler stamped its health file recently, else 1."""
    return EXIT_OK if heartbeat.is_fresh(settings.scheduler.health_file) else EXIT_FAILED
