"""An in-memory Redis for `dtq dev`: fakeredis, served over TCP so every dtq process and the
`dtq` CLI can reach it exactly as they reach a real Redis."""

from __future__ import annotations

import logging
import threading

import redis
from fakeredis import TcpFakeServer

log = logging.getLogger("dtq.dev")


class EmbeddedRedis:
    """A fakeredis server on 127.0.0.1:`port`, in a background thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._server: TcpFakeServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        """Listen (raises OSError if the port is taken)."""
        self._server = TcpFakeServer(("127.0.0.1", self.port), server_type="redis")
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="dtq-embedded-redis", daemon=True)
        self._thread.start()
        return self

    def mark(self, key: str) -> None:
        """Set `key` so other dtq processes know this is the in-memory dev server."""
        client = redis.Redis(port=self.port)
        try:
            client.set(key, "dtq dev: in-memory, nothing is kept")
        finally:
            client.close()

    def stop(self) -> None:
        """Stop serving; everything stored is gone."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
