"""The `dtq scheduler` process: promotes due tasks and recovers expired leases until SIGTERM."""

from __future__ import annotations

from dtq.scheduler import Scheduler
from dtq.settings import Settings
from services.runtime import configure_logging, run_process


def run(settings: Settings) -> None:
    """Run a scheduler until signalled. Any number may run at once."""
    configure_logging(settings.log)
    scheduler = Scheduler(settings)
    run_process(scheduler.run(), lambda _count: scheduler.request_stop())
