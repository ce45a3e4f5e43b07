"""What the dtq scale family (issue 14, part 3) shares.

Every workload of the family drives dtq only through its public surfaces, so that they keep
measuring the same thing while dtq's Redis layout changes: ``dtq.Client`` (here, in the
harness's process, which runs from dtq's own venv) to fill queues, the ``dtq`` command for its
processes and ``dtq queues``, and HTTP against a ``dtq api`` process. Nothing here reads or
writes a dtq key. The queue server's ``INFO`` totals (commands, CPU) are read as in the drain.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

import dtq
from bench import procs, runner
from bench.contender import Contender
from bench.context import Context
from bench.redis_server import free_port
from bench.stats import Spread, percentile
from bench.venvs import Env
from bench.workloads import dtq_only
from dtq.settings import QueueSettings, RedisSettings

FIGURE = "scale"
"""The family's charts go to ``latest-scale.png``, beside the side-by-side ``latest.png``."""
FILL_CHUNK = 5_000
"""Tasks per ``enqueue_many`` call when filling (dtq splits it into script calls itself)."""
QUEUES_MAX = 5_000
"""DTQ_QUEUES_MAX for the family's processes: the many-queues workload makes 1,000 and more."""
SCALE_APP = "bench.contenders.dtq_scale_tasks:app"
HTTP_TIMEOUT_S = 300.0
"""One request may redrive or purge 100,000 tasks."""


def label(n: int) -> str:
    """10,000 -> "10k", 1,000,000 -> "1M": the x axis of a cost-against-size panel."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return f"{n:,}"


def one(value: float) -> Spread:
    """A single measurement as a spread (the scale family runs its largest sizes once)."""
    return Spread(value, value, value)


def variant(dtq_contender: Contender) -> Contender:
    """dtq with room for the family's queues (DTQ_QUEUES_MAX) in every process it starts."""
    return dataclasses.replace(dtq_contender, env={**dtq_contender.env, "DTQ_QUEUES_MAX": str(QUEUES_MAX)})


def settings(ctx: Context) -> dtq.Settings:
    """Settings for the harness's own dtq client: the private queue server, the family's queue cap."""
    return dtq.Settings(redis=RedisSettings(url=ctx.queue.url), queues=QueueSettings(max=QUEUES_MAX))


def noop(queue: str = "default", **options: object) -> dtq.TaskRequest:
    """A no-op task the harness's workers count (``payload["sent_at"]`` is 0: no latency sample)."""
    return dtq.TaskRequest(task="noop", payload={"sent_at": 0.0}, queue=queue, **options)  # type: ignore[arg-type]


def fill(ctx: Context, requests: Iterable[dtq.TaskRequest], chunk: int = FILL_CHUNK) -> float:
    """Enqueue ``requests`` with ``Client.enqueue_many`` in chunks; returns the seconds it took."""

    async def go() -> float:
        async with dtq.Client(settings(ctx)) as client:
            started = time.perf_counter()
            it: Iterator[dtq.TaskRequest] = iter(requests)
            while batch := list(islice(it, chunk)):
                await client.enqueue_many(batch)
            return time.perf_counter() - started

    return asyncio.run(go())


def counts(ctx: Context, queues: Sequence[str] | None = None) -> dict[str, dtq.QueueCounts]:
    """``Client.all_queue_stats()``: every queue's counts, as the API and ``dtq queues`` read them."""

    async def go() -> dict[str, dtq.QueueCounts]:
        async with dtq.Client(settings(ctx)) as client:
            return await client.all_queue_stats(queues)

    return asyncio.run(go())


# --- the API process and HTTP -----------------------------------------------------------------


@dataclass
class Api:
    """A ``dtq api`` process on a free port, and one keep-alive connection to it."""

    group: procs.Group
    port: int
    _conn: http.client.HTTPConnection | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, float]:
        """(status, body, seconds) of one request, timed from sending to the last byte read.

        A GET on a kept-alive connection the API has since closed (it closes idle ones, and a fill
        of a million tasks is long) is sent once more on a new connection.
        """
        try:
            return self._send(method, path, body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if method != "GET":
                raise
            return self._send(method, path, body)

    def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes, float]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT_S)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        started = time.perf_counter()
        try:
            self._conn.request(method, path, body=body, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = None
            raise
        return response.status, data, time.perf_counter() - started

    def json(self, method: str, path: str, body: bytes | None = None) -> object:
        """The decoded body of a 2xx answer; RunFailed naming the status otherwise."""
        status, data, _ = self.request(method, path, body)
        if not 200 <= status < 300:
            raise runner.RunFailed(f"{method} {path}: HTTP {status} {data[:120]!r}")
        return json.loads(data)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self.group.stop()


def start_api(ctx: Context, dtq_contender: Contender, env: Env, tag: str) -> Api:
    """A fresh ``dtq api`` (no tokens, no app: any task name is accepted), ready to answer."""
    port = free_port()
    argv = [str(env.bin_dir / "dtq"), "api", "--host", "127.0.0.1", "--port", str(port)]
    api = Api(dtq_only.start(ctx, dtq_contender, [argv], tag), port)

    def ready() -> bool:
        try:
            return api.request("GET", "/readyz")[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    try:
        dtq_only.wait_until(ctx, api.group, ready, "dtq api")
    except BaseException:
        api.close()
        raise
    return api


def timed_ms(read: Callable[[], object], reads: int) -> list[float]:
    """Milliseconds of ``reads`` calls of ``read``, after one uncounted call (it warms caches)."""
    read()
    samples = []
    for _ in range(reads):
        started = time.perf_counter()
        read()
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def paired_ms(first: Callable[[], object], second: Callable[[], object], reads: int) -> tuple[list[float], list[float]]:
    """``timed_ms`` of two calls taken in turn, so that both see the same moments of a busy machine."""
    first()
    second()
    a: list[float] = []
    b: list[float] = []
    for _ in range(reads):
        a += _once_ms(first)
        b += _once_ms(second)
    return a, b


def _once_ms(call: Callable[[], object]) -> list[float]:
    started = time.perf_counter()
    call()
    return [(time.perf_counter() - started) * 1000.0]


def p50(samples: Sequence[float]) -> float:
    return percentile(samples, 50)
