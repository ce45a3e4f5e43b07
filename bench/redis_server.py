"""A private ``redis-server`` on a free loopback port, owned and stopped by the harness."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import redis

DEFAULT_ARGS: tuple[str, ...] = ("--save", "", "--appendonly", "no")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class ServerStats:
    """Totals read from INFO at one instant; deltas of two give a run's cost."""

    commands: int
    cpu_s: float


class PrivateRedis:
    """Context manager: start on enter, FLUSHALL between runs, stop on exit."""

    def __init__(self, workdir: Path, extra_args: Sequence[str] = DEFAULT_ARGS) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._args = list(extra_args)
        self._proc: subprocess.Popen[bytes] | None = None
        self.client = redis.Redis(host="127.0.0.1", port=self.port)

    def __enter__(self) -> PrivateRedis:
        self._workdir.mkdir(parents=True, exist_ok=True)
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self._workdir),
            *self._args,
        ]
        self._proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.client.close()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def flush(self) -> None:
        self.client.flushall()
        self.client.config_resetstat()

    def version(self) -> str:
        return str(self.client.info("server")["redis_version"])

    def stats(self) -> ServerStats:
        """Commands executed so far (INFO itself excluded) and server CPU user+sys seconds."""
        cmd = self.client.info("commandstats")
        cpu = self.client.info("cpu")
        calls = sum(int(v["calls"]) for k, v in cmd.items() if k != "cmdstat_info")
        return ServerStats(calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]))
