"""The `dtq api` process: the REST API on uvicorn."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from dtq.client import Client
from dtq.errors import RedisUnavailable
from dtq.settings import Settings
from services.api.app import create_app
from services.api.http import GuardedHttpProtocol
from services.runtime import configure_logging, run_process


class Server(uvicorn.Server):
    """uvicorn, leaving SIGTERM/SIGINT to the dtq process (which may have a worker to drain)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self, *, now: bool = False) -> None:
        """Stop accepting connections and finish the open ones (`now`: don't wait for them)."""
        self.should_exit = True
        self.force_exit = self.force_exit or now


def server(settings: Settings, host: str, port: int, app: ASGIApp | None = None) -> Server:
    """A uvicorn server for the API (not started); given `app`, one serving that instead, set up
    the same way (the benchmark's reference row)."""
    limits = settings.api
    config = uvicorn.Config(
        create_app(settings) if app is None else app,
        http=GuardedHttpProtocol.with_limits(limits.max_header_bytes, limits.header_timeout),
        host=host,
        port=port,
        log_config=None,  # our logging set-up stays in charge
        access_log=False,
        server_header=False,
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=30,
    )
    return Server(config)


def run(settings: Settings, host: str | None, port: int | None) -> None:
    """Serve until SIGTERM/SIGINT, then finish open requests and exit 0."""
    configure_logging(settings.log)
    api = server(settings, host or settings.api.host, port or settings.api.port)

    async def serve() -> None:
        await refuse_unsafe_redis(settings)
        freeze_startup_objects()
        await api.serve()

    run_process(serve(), lambda count: api.stop(now=count > 1))


def freeze_startup_objects() -> None:
    """Keep the objects of start-up (modules, FastAPI's routes and schemas: ~80,000) out of the
    garbage collector's full passes, which walk every tracked object. Under `wrk -c32` on
    `POST /tasks` a full pass came every 1-4 s and took 38-48 ms, every request in flight
    waiting on it (the p99); with start-up frozen, 1.2-2.1 ms."""
    gc.collect()  # what start-up left as garbage is freed, not frozen
    gc.freeze()


async def refuse_unsafe_redis(settings: Settings) -> None:
    """Raise UnsafeRedisConfig before serving, like the worker and scheduler do, so the process
    exits with one line instead of uvicorn's lifespan traceback. An unreachable Redis is fine:
    the API starts and /readyz answers 503 until Redis is back."""
    client = Client(settings)
    try:
        with contextlib.suppress(RedisUnavailable):
            await client.connect()
    finally:
        await client.close()
