"""The `dtq api` process: the REST API on uvicorn."""

from __future__ import annotations

import uvicorn

from dtq.settings import Settings
from services.api.app import create_app
from services.runtime import configure_logging


def server(settings: Settings, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for the API (not started)."""
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,  # our logging set-up stays in charge
        access_log=False,
        server_header=False,
        limit_concurrency=10_000,
        timeout_keep_alive=30,
    )
    return uvicorn.Server(config)


def run(settings: Settings, host: str | None, port: int | None) -> None:
    """Serve until SIGTERM/SIGINT (uvicorn handles the signals and drains connections)."""
    configure_logging(settings.log)
    server(settings, host or settings.api.host, port or settings.api.port).run()
