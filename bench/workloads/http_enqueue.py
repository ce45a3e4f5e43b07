"""Workload 4 (dtq only): the REST API under load, one ``dtq api`` (uvicorn) process.

Three modes, each against a freshly started API on an emptied queue server, and a reference:

- closed loop, single tasks: wrk keeps 32 connections busy with ``POST /tasks``;
- the reference for it: the same wrk load on a minimal ASGI app that reads each body and answers
  the API's 62-byte body, served by uvicorn set up exactly as ``dtq api`` sets it up
  (``serve_reference()``, in a process of its own): what uvicorn, httptools, uvloop and the
  kernel's loopback cost per request on this machine, the floor under the API's figure;
- paced, single tasks: :mod:`bench.http_load` sends ``POST /tasks`` at a fixed 1,000/s and
  measures each request from when it was due (wrk cannot pace, and its closed loop hides
  stalls from the latency figures);
- closed loop, bulk: wrk sends ``POST /tasks/bulk`` with 1,000 tasks per request.

wrk is C, so it takes far less of the two cores from the API than a Python client would; the
paced generator is Python because at 1,000 requests/s its cost is small and pacing is what it
is for. Both run in their own processes, never in the API's interpreter.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench import machine, procs, runner
from bench.contender import Contender
from bench.context import Context
from bench.redis_server import free_port
from bench.results import Bar, Chart, Section, Table
from bench.stats import Spread
from bench.venvs import Env
from bench.workloads import dtq_only

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

LUA = Path(__file__).with_name("http_enqueue.lua")
ITEM = '{"priority": true, "task": "high-priority task"}'  # the original API's example body
# What `POST /tasks` answers for it, as the reference app answers every request.
ANSWER = b'{"id":"01a25117-3426-700a-b00d-85b7d2bc2f1e","state":"queued"}'
WARMUP_S = 1
WRK_TIMEOUT = "10s"
INSTALL_WRK = "Debian/Ubuntu: `apt-get install -y wrk`"
COLUMNS = (
    "Mode",
    "Connections",
    "Requests/s",
    "Tasks/s",
    "p50 (ms)",
    "p99 (ms)",
    "max (ms)",
    "Errors",
    "API CPU (% of a core)",
    "API CPU per task (µs)",
    "Generator behind schedule, p99 (ms)",
    "Other CPU before (%)",
    "Target",
)


@dataclass(frozen=True)
class Mode:
    """One way of loading the API."""

    label: str
    short: str
    """Its label in the chart."""
    path: str
    tasks_per_request: int
    connections: int
    rate: float | None
    """Requests per second for a paced run; None for wrk's closed loop."""
    target: str
    reference: bool = False
    """Served by the minimal ASGI app instead of ``dtq api`` (stores nothing)."""


SINGLE = Mode("`POST /tasks`, closed loop (wrk)", "POST /tasks", "/tasks", 1, 32, None, "≥ 5,000 requests/s")
REFERENCE = Mode(
    "Reference: minimal ASGI app, same uvicorn set-up (wrk)",
    "minimal ASGI app",
    "/tasks",
    1,
    32,
    None,
    "the floor under `POST /tasks`",
    reference=True,
)
PACED = Mode("`POST /tasks`, paced at 1,000/s", "POST /tasks at 1,000/s", "/tasks", 1, 32, 1000.0, "p99 < 20 ms")
# Two connections: one request's body is parsed while the other's tasks are stored; more only
# queue up behind the one process (on a busy machine 4 and 8 gave no more tasks/s and 3-5x the p50).
BULK = Mode(
    "`POST /tasks/bulk`, 1,000 tasks each (wrk)", "POST /tasks/bulk", "/tasks/bulk", 1000, 2, None, "≥ 50,000 tasks/s"
)
MODES = (SINGLE, REFERENCE, PACED, BULK)
THROUGHPUT = "closed loop"


@dataclass(frozen=True)
class Load:
    """What one load generator run reports."""

    requests: int
    """Requests answered without an HTTP error."""
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    lag_p99_ms: float | None = None
    """How late the paced generator itself sent, p99; None for a closed loop."""


@dataclass(frozen=True)
class Sample:
    requests_per_s: float
    tasks_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    api_cpu_pct: float
    api_cpu_us_per_task: float
    lag_p99_ms: float | None
    background_pct: float


def _wrk(ctx: Context, mode: Mode, url: str, seconds: int) -> Load:
    argv = ["wrk", "-t1", f"-c{mode.connections}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT}", "-s", str(LUA)]
    argv += [url, "--", ITEM]
    if mode.tasks_per_request > 1:
        argv.append(str(mode.tasks_per_request))
    done = procs.run(argv, None, ctx.repo, seconds + 60.0)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise runner.RunFailed(f"wrk exited {done.returncode}: {(done.stderr or done.stdout).strip()[:160]}")
    out = json.loads(lines[-1])
    errors = int(out["http_errors"]) + int(out["socket_errors"])
    return Load(
        requests=int(out["requests"]) - int(out["http_errors"]),
        seconds=out["duration_us"] / 1e6,
        errors=errors,
        p50_ms=out["p50_us"] / 1000.0,
        p99_ms=out["p99_us"] / 1000.0,
        max_ms=out["max_us"] / 1000.0,
    )


def _paced(ctx: Context, env: Env, mode: Mode, url: str, seconds: float) -> Load:
    assert mode.rate is not None
    argv = [str(env.python), "-m", "bench.http_load", url, str(mode.rate), str(seconds), str(mode.connections), ITEM]
    done = procs.run(argv, {**os.environ, "PYTHONPATH": str(ctx.repo)}, ctx.repo, seconds + 60.0)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise runner.RunFailed(f"http_load exited {done.returncode}: {last[0][:160]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return Load(
        requests=int(out["n"]) - int(out["http_errors"]),
        seconds=out["seconds"],
        errors=int(out["http_errors"]) + int(out["socket_errors"]),
        p50_ms=out["p50_ms"],
        p99_ms=out["p99_ms"],
        max_ms=out["max_ms"],
        lag_p99_ms=out["lag_p99_ms"],
    )


def _drive(ctx: Context, env: Env, mode: Mode, url: str, seconds: int) -> Load:
    return _wrk(ctx, mode, url, seconds) if mode.rate is None else _paced(ctx, env, mode, url, seconds)


def _get_json(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            document: dict[str, object] = json.load(response)
            return document
    except (OSError, urllib.error.URLError, ValueError):
        return None


def _stored(base: str) -> int:
    """Tasks ready in the default queue, as the API itself reports them."""
    queue = _get_json(f"{base}/queues/default")
    ready = queue.get("ready") if queue else None
    return ready if isinstance(ready, int) else -1


def once(ctx: Context, dtq: Contender, env: Env, mode: Mode, tag: str) -> Sample:
    background = runner.wait_quiet(ctx)
    runner.reset(ctx)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = [str(env.bin_dir / "dtq"), "api", "--host", "127.0.0.1", "--port", str(port)]
    if mode.reference:
        api = [str(env.python), "-c", f"from {__name__} import serve_reference; serve_reference({port})"]
    group = dtq_only.start(ctx, dtq, [api], tag)
    try:
        dtq_only.wait_until(ctx, group, lambda: _get_json(f"{base}/readyz") is not None, "dtq api")
        _drive(ctx, env, mode, base + mode.path, WARMUP_S)  # uncounted: first requests warm caches
        pid = group.pids()[0]
        cpu_before = machine.process_cpu_s(pid)
        load = _drive(ctx, env, mode, base + mode.path, int(ctx.config.http_seconds))
        api_cpu_s = machine.process_cpu_s(pid) - cpu_before
        stored = _stored(base)
    finally:
        group.stop()
    accepted = load.requests * mode.tasks_per_request
    if stored < accepted and not mode.reference:
        raise runner.RunFailed(f"the API answered 2xx for {accepted:,} tasks but {stored:,} are stored")
    return Sample(
        requests_per_s=load.requests / load.seconds,
        tasks_per_s=accepted / load.seconds,
        p50_ms=load.p50_ms,
        p99_ms=load.p99_ms,
        max_ms=load.max_ms,
        errors=load.errors,
        api_cpu_pct=api_cpu_s / load.seconds * 100.0,
        api_cpu_us_per_task=api_cpu_s / max(1, accepted) * 1e6,
        lag_p99_ms=load.lag_p99_ms,
        background_pct=background * 100.0,
    )


def _row(mode: Mode, samples: list[Sample]) -> tuple[str, ...]:
    def spread(attr: str, digits: int) -> str:
        return Spread.of([getattr(s, attr) for s in samples]).render(digits)

    return (
        mode.label,
        str(mode.connections),
        spread("requests_per_s", 0),
        "none stored" if mode.reference else spread("tasks_per_s", 0),
        spread("p50_ms", 2),
        spread("p99_ms", 2),
        spread("max_ms", 1),
        spread("errors", 0),
        spread("api_cpu_pct", 0),
        spread("api_cpu_us_per_task", 1),
        "closed loop" if mode.rate is None else spread("lag_p99_ms", 2),
        spread("background_pct", 0),
        mode.target,
    )


def _add(mode: Mode, samples: list[Sample], table: Table, charts: list[Chart]) -> None:
    """The mode's row, its throughput bar (one figure per mode) and its latency bars."""
    table.rows.append(_row(mode, samples))
    if mode is SINGLE or mode is REFERENCE:
        spread = Spread.of([s.requests_per_s for s in samples])
        charts[0].bars.append(Bar(f"{mode.short}: requests/s", THROUGHPUT, spread))
    if mode is BULK:
        spread = Spread.of([s.tasks_per_s for s in samples])
        charts[0].bars.append(Bar(f"{mode.short}: tasks/s", THROUGHPUT, spread))
    charts[1].bars.append(Bar(mode.short, "p50", Spread.of([s.p50_ms for s in samples])))
    charts[1].bars.append(Bar(mode.short, "p99", Spread.of([s.p99_ms for s in samples])))


def _repeats(ctx: Context, dtq: Contender, env: Env, mode: Mode, table: Table) -> list[Sample]:
    samples: list[Sample] = []
    for i in range(ctx.config.repeats):
        try:
            sample = once(ctx, dtq, env, mode, f"http-{mode.path.strip('/').replace('/', '-')}-r{i}")
        except runner.RunFailed as exc:
            ctx.say(f"[http-enqueue] {mode.label} run {i}: failed: {exc}")
            table.rows.append(
                (mode.label, str(mode.connections), f"failed: {exc}", *[""] * (len(COLUMNS) - 4), mode.target)
            )
            return []
        ctx.say(
            f"[http-enqueue] {mode.label} run {i}: {sample.requests_per_s:,.0f} requests/s, "
            f"{sample.tasks_per_s:,.0f} tasks/s, p50 {sample.p50_ms:.2f} ms, p99 {sample.p99_ms:.2f} ms, "
            f"API CPU {sample.api_cpu_pct:.0f}% ({sample.api_cpu_us_per_task:.0f} µs/task)"
        )
        samples.append(sample)
    return samples


class HttpEnqueue:
    """``POST /tasks`` closed-loop and paced, and ``POST /tasks/bulk``, on one API process."""

    name = "http-enqueue"

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section:
        table = Table("HTTP enqueue (dtq only)", COLUMNS)
        charts = [
            Chart("dtq HTTP enqueue, one uvicorn process (median, min-max)", "per second", log_scale=True),
            Chart("dtq HTTP enqueue latency per request (median of repeats, min-max)", "ms", log_scale=True),
        ]
        found = dtq_only.find(ctx, contenders, table)
        if found is not None:
            dtq, env = found
            for mode in MODES:
                samples = _repeats(ctx, dtq, env, mode, table)
                if samples:
                    _add(mode, samples, table, charts)
        table.notes.extend(self._notes(ctx))
        return Section("Workload 4: HTTP enqueue (dtq only)", self._intro(), [table], charts)

    @staticmethod
    def _intro() -> str:
        return (
            "One `dtq api` process (uvicorn, as the command starts it, no API tokens) against the "
            "private queue server, loaded from a separate process: `wrk` (C, closed loop) for "
            "throughput, and `bench/http_load.py` (Python asyncio, open loop) for latency at a fixed "
            f"rate. Every request carries the original API's task body `{ITEM}` (the bulk body is a "
            "JSON array of 1,000 of them)."
        )

    @staticmethod
    def _notes(ctx: Context) -> list[str]:
        cfg = ctx.config
        return [
            f"{cfg.repeats} repeat(s) per mode, median [min-max]; each repeat starts a fresh API on an "
            f"emptied server, sends {WARMUP_S} s of uncounted warm-up load, then {cfg.http_seconds:.0f} s "
            "of measured load.",
            "Closed loop: `wrk -t1 -c<connections> -s bench/workloads/http_enqueue.lua`; each connection "
            "sends its next request when the last is answered, so p50/p99 are latencies under saturation. "
            "One wrk thread is plenty for these rates and leaves the second core to the API and Redis.",
            "Paced: request i is due at start + i/1,000 s whatever happened before, spread over 32 "
            "keep-alive connections; latency runs from the due time to the complete response, so waiting "
            "for a free connection or for the generator counts (no coordinated omission). Generator behind "
            "schedule: how late the generator itself handed requests out (p99; its event loop's timers are "
            "millisecond-grained, so up to about 1 ms even on a quiet machine, and that counts in the "
            "latency too), so a starved generator is not mistaken for a slow API.",
            "Errors: HTTP status >= 400 plus socket errors and timeouts. After each run the API's "
            "`GET /queues/default` must count at least as many ready tasks as were answered with 2xx, or "
            "the run fails.",
            "API CPU: user+system CPU seconds of the `dtq api` process during the measured load, per "
            "second of load (100% is one core, the most one Python process can use) and per task "
            "accepted. Per task is the steadier figure on a busy machine: 1,000,000 / (µs per task) "
            "estimates what the process would do with a whole core to itself.",
            "Reference: `serve_reference()` in `bench/workloads/http_enqueue.py`, an ASGI app of a few "
            "lines that reads each request's body and answers the API's 200 (the same 62-byte JSON body "
            "and headers, no Redis), on uvicorn built by the API's own `services.api.server()` "
            "(httptools with the API's header guard, uvloop, the same limits), loaded and measured "
            "exactly as `POST /tasks` is. Its CPU per request is what uvicorn, the event loop and the "
            "loopback sockets cost on this machine; the API's figure minus it is what dtq spends.",
        ]


async def reference_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The reference row's server: every request's body read, then the API's answer to it."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    head = [(b"content-length", b"%d" % len(ANSWER)), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": head})
    await send({"type": "http.response.body", "body": ANSWER})


def serve_reference(port: int) -> None:
    """Serve `reference_app` on 127.0.0.1:`port` as ``dtq api`` serves the API, until SIGTERM."""
    from services import api  # noqa: PLC0415 - the harness itself never loads uvicorn
    from services.runtime import load_settings, run_process  # noqa: PLC0415

    server = api.server(load_settings(), "127.0.0.1", port, app=reference_app)
    run_process(server.serve(), lambda count: server.stop(now=count > 1))
