"""`dtq dev`: API, worker and scheduler in one process, for a laptop.

With DTQ_REDIS_URL unset it serves an in-memory Redis (fakeredis) on a local port and runs
unknown task names as "log and succeed", so the original API examples just run. With
DTQ_REDIS_URL set it uses that Redis, like the production processes.
"""

from __future__ import annotations

import asyncio
import logging
import os

from dtq.keys import GlobalKeys
from dtq.registry import load_handlers
from dtq.scheduler import Scheduler
from dtq.settings import Settings
from dtq.worker import Worker
from services import api
from services.dev.embedded import EmbeddedRedis
from services.runtime import configure_logging, fail, run_process

log = logging.getLogger("dtq.dev")

BANNER = """
  dtq dev: API on http://{host}:{port}  (docs: http://{host}:{port}/docs)
  {redis}
  Try:  curl -X POST http://{host}:{port}/tasks -d '{{"priority":true,"task":"high-priority task"}}'
"""
EMBEDDED = """Redis: EMBEDDED IN MEMORY on {url} -- everything is lost when this process stops.
  Set DTQ_REDIS_URL to use a real Redis. Tasks with no handler are logged and marked succeeded."""
REAL = "Redis: the one at DTQ_REDIS_URL (tasks with no handler: DTQ_WORKER_UNKNOWN_TASKS)."


def embedded_settings(settings: Settings, redis_url: str) -> Settings:
    """`settings` pointed at the embedded server; unknown tasks succeed unless set explicitly."""
    worker = {} if "DTQ_WORKER_UNKNOWN_TASKS" in os.environ else {"unknown_tasks": "log"}
    return settings.with_changes(redis={"url": redis_url}, worker=worker)


def run(settings: Settings, host: str | None, port: int | None, redis_port: int) -> None:
    """Run everything until Ctrl-C."""
    configure_logging(settings.log)
    if "DTQ_BUILTIN_TASKS" not in os.environ:  # dtq dev is where echo, sleep and fail belong
        settings = settings.model_copy(update={"builtin_tasks": True})
    embedded: EmbeddedRedis | None = None
    if "DTQ_REDIS_URL" not in os.environ:
        try:
            embedded = EmbeddedRedis(redis_port).start()
            embedded.mark(GlobalKeys(settings.redis.key_prefix).embedded)
        except OSError as exc:
            fail(f"--redis-port {redis_port}: cannot listen for the embedded Redis: {exc}")
        settings = embedded_settings(settings, embedded.url)
    host = host or settings.api.host
    port = port or settings.api.port
    redis = EMBEDDED.format(url=embedded.url) if embedded else REAL
    print(BANNER.format(host=host, port=port, redis=redis), flush=True)
    if embedded is None:
        log.info("using the Redis at DTQ_REDIS_URL")
    app = load_handlers(settings.app, builtins=settings.builtin_tasks)
    worker = Worker(app, settings)
    scheduler = Scheduler(settings)
    server = api.server(settings, host, port)

    def on_signal(count: int) -> None:
        server.stop(now=count > 1)
        worker.request_stop(now=count > 1)
        scheduler.request_stop()

    try:
        run_process(_serve(server, worker, scheduler), on_signal)
    finally:
        if embedded is not None:
            embedded.stop()


async def _serve(server: api.Server, worker: Worker, scheduler: Scheduler) -> None:
    background = [asyncio.create_task(worker.run()), asyncio.create_task(scheduler.run())]
    try:
        await server.serve()
    finally:
        worker.request_stop()
        scheduler.request_stop()
        await asyncio.gather(*background, return_exceptions=True)
