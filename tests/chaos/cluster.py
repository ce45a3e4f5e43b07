"""The runner: a whole dtq deployment on loopback, started as a user starts it, for one scenario.

- `redis-server` with AOF `everysec` and `noeviction`, on a free port, in its own directory
  (so it can be killed and started again on the same data);
- an oracle `redis-server` the faults never touch (see `handlers.py`);
- optionally the chaos `Proxy` between every dtq process and Redis;
- `dtq api`, N `dtq worker` and M `dtq scheduler` processes, each in its own process group
  with its own log file, optionally under `faketime`.

The test process keeps a direct `Client` to Redis (never through the proxy) to read the truth.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from dtq.client import Client
from dtq.settings import Settings
from tests.chaos.proxy import Proxy
from tests.support import processes
from tests.support.redis_server import RedisServer, free_port

QUEUE = "default"
APP = "tests.chaos.handlers:app"
AOF = ["--appendonly", "yes", "--appendfsync", "everysec"]


def require_faketime() -> str:
    """The `faketime` binary; a clear failure (not a skip) when it is missing."""
    binary = shutil.which("faketime")
    if binary is None:
        raise RuntimeError("faketime is not installed (apt-get install faketime); the clock-skew scenario needs it")
    return binary


async def wait_for(
    condition: Callable[[], Awaitable[bool] | bool], timeout: float, what: str, step: float = 0.05
) -> float:
    """Poll `condition` until true; returns the seconds it took, raises TimeoutError naming `what`."""
    started = time.monotonic()
    while True:
        result = condition()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(step)


@dataclass
class Spec:
    """What to run. `env` adds DTQ_* settings (without the prefix) to every dtq process."""

    workers: int = 3
    concurrency: int = 4
    schedulers: int = 2
    lease: float = 3.0
    proxy: bool = False
    env: dict[str, str] = field(default_factory=dict)
    redis_extra: list[str] = field(default_factory=list)
    skewed_schedulers: dict[int, str] = field(default_factory=dict)  # scheduler index -> faketime offset
    check_redis: bool = True  # the test's own client refuses an unsafe Redis, like dtq's processes
    direct_schedulers: bool = False  # schedulers bypass the proxy (to order a race deterministically)


@dataclass(eq=False)
class Proc:
    """One dtq process we started."""

    role: str
    process: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.time)
    ended: float | None = None
    expected_end: bool = False  # we killed or stopped it

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: int) -> None:
        os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        self.expected_end = True
        self.ended = time.time()
        self.signal(signal.SIGKILL)
        self.process.wait(10)


class Cluster:
    """One deployment; use `async with Cluster(directory, spec) as cluster`."""

    def __init__(self, directory: Path, spec: Spec) -> None:
        self.directory = directory
        self.spec = spec
        self.redis = RedisServer(directory / "redis", extra=[*AOF, *spec.redis_extra])
        self.oracle_server = RedisServer(directory / "oracle")
        self.proxy: Proxy | None = None
        self.prefix = "chaos"
        self.api_port = free_port()
        self.procs: list[Proc] = []
        self._numbers = itertools.count(1)
        self.client: Client | None = None
        self.oracle: redis.Redis | None = None
        self.http: httpx.AsyncClient | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Cluster:
        await self.start_servers()
        self.api = self.start("api", "--port", str(self.api_port))
        self.workers = [self.start_worker() for _ in range(self.spec.workers)]
        self.schedulers = [self.start_scheduler(i) for i in range(self.spec.schedulers)]
        await self.wait_ready()
        return self

    async def start_servers(self) -> None:
        """Redis, the oracle, the proxy, and the test's own clients: everything but dtq's processes."""
        await asyncio.to_thread(self.redis.start)
        await asyncio.to_thread(self.oracle_server.start)
        if self.spec.proxy:
            self.proxy = await asyncio.to_thread(Proxy(self.redis.port).start)
        self.oracle = redis.Redis.from_url(self.oracle_server.url)
        self.client = Client(self.settings())
        if self.spec.check_redis:
            await self.client.connect()
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.api_port}", timeout=10)

    async def __aexit__(self, *exc: object) -> None:
        for proc in self.procs:
            if proc.alive():
                proc.expected_end = True
                proc.signal(signal.SIGKILL)
        for proc in self.procs:
            proc.process.wait(10)
        if self.http is not None:
            await self.http.aclose()
        if self.client is not None:
            await self.client.close()
        if self.oracle is not None:
            self.oracle.close()
        if self.proxy is not None:
            await asyncio.to_thread(self.proxy.stop)
        self.redis.kill()
        self.oracle_server.stop()

    async def wait_ready(self, timeout: float = 60) -> None:
        """API ready, every worker registered, every scheduler running."""
        await wait_for(self._api_ready, timeout, "the API's /readyz")
        await self.wait_workers(timeout)
        for proc in self.schedulers:
            await wait_for(lambda p=proc: "scheduler running" in p.log.read_text(), timeout, f"scheduler {proc.pid}")

    async def wait_workers(self, timeout: float = 60) -> None:
        await wait_for(self._workers_registered, timeout, "every worker's heartbeat")

    async def _api_ready(self) -> bool:
        assert self.http is not None
        if not self.api.alive():
            raise RuntimeError(f"the API exited; see {self.api.log}")
        try:
            return (await self.http.get("/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def _workers_registered(self) -> bool:
        assert self.client is not None
        live = {w.pid for w in await self.client.workers()}
        return all(proc.pid in live for proc in self.live_workers())

    # --- processes ---------------------------------------------------------------------------

    @property
    def redis_url(self) -> str:
        """The URL dtq processes use: the proxy's when there is one."""
        port = self.proxy.port if self.proxy is not None else self.redis.port
        return f"redis://127.0.0.1:{port}/0"

    def settings(self) -> Settings:
        """Settings of the test's own client: straight to Redis, never through the proxy."""
        return Settings(redis={"url": self.redis.url, "key_prefix": self.prefix})  # type: ignore[arg-type]

    def env(self, *, direct: bool = False, **extra: str) -> dict[str, str]:
        settings = {
            "WORKER_LEASE": str(self.spec.lease),
            "WORKER_HEARTBEAT_INTERVAL": "1",
            "WORKER_IDLE_POLL": "0.5",
            "WORKER_SHUTDOWN_GRACE": "10",
            "SCHEDULER_POLL_INTERVAL": "1",
            "SCHEDULER_QUEUE_REFRESH": "1",
            "TASKS_BACKOFF_BASE": "0.1",
            "TASKS_BACKOFF_MAX": "1",
            **self.spec.env,
            **extra,
        }
        url = self.redis.url if direct else self.redis_url
        env = processes.dtq_env(url, self.prefix, self.directory, **settings)
        env.pop("ORACLE_URL", None)
        env["CHAOS_ORACLE_URL"] = self.oracle_server.url
        return env

    def start(
        self,
        role: str,
        *args: str,
        wrapper: list[str] | None = None,
        raw_env: dict[str, str] | None = None,
        **extra: str,
    ) -> Proc:
        """Start `dtq <role> <args>`; `extra` are DTQ_* settings (without the prefix), `raw_env` other variables."""
        log = self.directory / f"{role}-{next(self._numbers)}.log"
        handle = log.open("ab")
        command = [*(wrapper or []), processes.DTQ, role, *args]
        direct = role == "scheduler" and self.spec.direct_schedulers
        env = {**self.env(direct=direct, **extra), **(raw_env or {})}
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        proc = Proc(role, process, log)
        self.procs.append(proc)
        return proc

    def start_worker(self, **extra: str) -> Proc:
        return self.start("worker", "--app", APP, "--concurrency", str(self.spec.concurrency), **extra)

    def start_scheduler(self, index: int) -> Proc:
        offset = self.spec.skewed_schedulers.get(index)
        if offset is None:
            return self.start("scheduler")
        wrapper = [require_faketime(), "-f", offset]
        return self.start("scheduler", wrapper=wrapper, raw_env={"FAKETIME_DONT_FAKE_MONOTONIC": "1"})

    def live_workers(self) -> list[Proc]:
        return [p for p in self.procs if p.role == "worker" and p.alive()]

    def unexpected_exits(self) -> list[str]:
        """Processes that ended without our doing it, with their exit codes."""
        return [f"{p.role} {p.pid} exited {p.process.returncode} (log {p.log.name})"
                for p in self.procs if not p.expected_end and not p.alive()]  # fmt: skip

    def log_count(self, role: str, text: str) -> int:
        """Lines containing `text` across the logs of every process of `role`."""
        return sum(p.log.read_text(errors="replace").count(text) for p in self.procs if p.role == role)

    # --- reading the truth -------------------------------------------------------------------

    async def pending(self) -> int:
        """Tasks not yet in a final state (ready, scheduled, retrying or active)."""
        assert self.client is not None
        stats = await self.client.queue_stats(QUEUE)
        return stats.ready + stats.scheduled + stats.retrying + stats.active

    async def redis_time_ms(self) -> int:
        assert self.client is not None
        seconds, micros = await self.client.store.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000
