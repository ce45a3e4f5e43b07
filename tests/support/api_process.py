"""A real `dtq api` process on a free port, for tests that need its HTTP server (not ASGI)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from tests.support.processes import dtq_env, start, stop
from tests.support.redis_server import free_port


@dataclass(frozen=True)
class ApiProcess:
    """Where the API listens, its process, and its log."""

    host: str
    port: int
    pid: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def peak_rss(self) -> int:
        """The process's resident-set high-water mark, bytes (VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc status")

    def rss(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)


@contextmanager
def running_api(redis_url: str, prefix: str, directory: Path, **settings: str) -> Iterator[ApiProcess]:
    """`dtq api` with `settings` (as DTQ_ names without the prefix), ready to serve."""
    port = free_port()
    log = directory / f"api-{port}.log"
    env = dtq_env(redis_url, prefix, directory, api_port=str(port), **settings)
    process = start(["api"], env, log)
    try:
        api = ApiProcess("127.0.0.1", port, process.pid, log)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{api.base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)  # polling a port that has no event to wait on
        yield api
    finally:
        stop(process)
