"""Scale 5 (dtq only): reading queue counts with 10k, 100k and 1M tasks waiting over 100 queues.

The queues are filled in steps (``Client.enqueue_many``, priorities 0-9 in turn, no worker),
and at each size the same reads are timed against one ``dtq api``: ``GET /queues``,
``GET /queues/{name}``, the dashboard's overview (the requests its page makes before it has
drawn everything: the page, ``/ui/whoami``, ``/queues``, ``/stats?minutes=60``, one after the
other as the page does), and the ``dtq queues --json`` command, whose start-up is measured apart
(``dtq queues --help``: the same imports, no Redis) so that its query time shows.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import dtq
from bench import procs, runner
from bench.contender import Contender
from bench.context import Context
from bench.results import Bar, Chart, Section, Table
from bench.venvs import Env
from bench.workloads import dtq_only, scale

QUEUES = tuple(f"intro{i:02}" for i in range(100))
ONE = QUEUES[42]
OVERVIEW = ("/ui/", "/ui/whoami", "/queues", "/stats?minutes=60")
GOAL_MS = 50.0
COLUMNS = (
    "Waiting tasks",
    "`GET /queues` p50 (ms)",
    "`GET /queues/{name}` p50 (ms)",
    "Dashboard overview p50 (ms)",
    "its `GET /stats?minutes=60` alone (ms)",
    "`dtq queues` p50 (ms)",
    "`dtq queues` less start-up (ms)",
    "Redis CPU per `GET /queues` (ms)",
    "Other CPU before (%)",
)


@dataclass(frozen=True)
class Sample:
    n: int
    queues_ms: float
    queue_ms: float
    overview_ms: float
    stats_ms: float
    cli_ms: float
    floor_ms: float
    cli_query_ms: float
    redis_ms_per_list: float
    background_pct: float


def requests(start: int, stop: int) -> Iterator[dtq.TaskRequest]:
    """Tasks ``start`` to ``stop``: queues and priorities in turn, so each queue holds every priority."""
    for i in range(start, stop):
        yield scale.noop(queue=QUEUES[i % len(QUEUES)], priority=(i // len(QUEUES)) % 10)


def _ok(api: scale.Api, path: str) -> None:
    status, data, _ = api.request("GET", path)
    if status != 200:
        raise runner.RunFailed(f"GET {path}: HTTP {status} {data[:120]!r}")


def _command(ctx: Context, dtq_contender: Contender, env: Env, *args: str) -> Callable[[], None]:
    argv = [str(env.bin_dir / "dtq"), *args]
    environ = runner.process_env(ctx, dtq_contender)

    def run() -> None:
        try:
            done = procs.run(argv, environ, ctx.repo, 60.0)
        except subprocess.TimeoutExpired:
            raise runner.RunFailed(f"`dtq {' '.join(args)}` took over 60 s") from None
        if done.returncode != 0:
            raise runner.RunFailed(f"`dtq {' '.join(args)}` exited {done.returncode}: {done.stderr.strip()[-160:]}")

    return run


def _check_total(api: scale.Api, n: int) -> None:
    answer = api.json("GET", "/queues")
    queues = answer.get("queues") if isinstance(answer, dict) else None
    ready = sum(q.get("ready", 0) for q in queues) if isinstance(queues, list) else -1
    if ready != n or len(queues or []) != len(QUEUES):
        raise runner.RunFailed(f"GET /queues counts {ready:,} ready in {len(queues or [])} queues, not {n:,}")


def measure(ctx: Context, api: scale.Api, floor: Callable[[], None], cli: Callable[[], None], n: int) -> Sample:
    background = runner.wait_quiet(ctx)
    reads = ctx.config.reads
    _check_total(api, n)
    before = ctx.queue.stats()
    queues_ms = scale.p50(scale.timed_ms(lambda: _ok(api, "/queues"), reads))
    redis_s = ctx.queue.stats().cpu_s - before.cpu_s
    queue_ms = scale.p50(scale.timed_ms(lambda: _ok(api, f"/queues/{ONE}"), reads))

    def overview() -> None:
        for path in OVERVIEW:
            _ok(api, path)

    overview_ms = scale.p50(scale.timed_ms(overview, reads))
    stats_ms = scale.p50(scale.timed_ms(lambda: _ok(api, OVERVIEW[-1]), reads))
    # The command and its start-up alone, in turn, so that both see the same machine.
    floor_ms, cli_ms = (scale.p50(s) for s in scale.paired_ms(floor, cli, reads))
    return Sample(
        n=n,
        queues_ms=queues_ms,
        queue_ms=queue_ms,
        overview_ms=overview_ms,
        stats_ms=stats_ms,
        cli_ms=cli_ms,
        floor_ms=floor_ms,
        cli_query_ms=cli_ms - floor_ms,
        redis_ms_per_list=redis_s / (reads + 1) * 1000.0,  # the uncounted warm-up read is in the delta
        background_pct=background * 100.0,
    )


def _row(s: Sample) -> tuple[str, ...]:
    return (
        f"{s.n:,}",
        f"{s.queues_ms:.1f}",
        f"{s.queue_ms:.1f}",
        f"{s.overview_ms:.1f}",
        f"{s.stats_ms:.1f}",
        f"{s.cli_ms:.0f}",
        f"{s.cli_query_ms:.0f}",
        f"{s.redis_ms_per_list:.2f}",
        f"{s.background_pct:.0f}",
    )


def run_sizes(ctx: Context, dtq_contender: Contender, env: Env, table: Table) -> list[Sample]:
    runner.reset(ctx)
    floor = _command(ctx, dtq_contender, env, "queues", "--help")
    cli = _command(ctx, dtq_contender, env, "queues", "--json")
    api = scale.start_api(ctx, dtq_contender, env, "introspection-api")
    samples: list[Sample] = []
    try:
        filled = 0
        for n in ctx.config.backlog_sizes:
            scale.fill(ctx, requests(filled, n))
            filled = n
            sample = measure(ctx, api, floor, cli, n)
            ctx.say(f"[introspection] {' | '.join(_row(sample))}")
            table.rows.append(_row(sample))
            samples.append(sample)
    finally:
        api.close()
        runner.reset(ctx)
    return samples


def chart(samples: Sequence[Sample]) -> Chart:
    out = Chart(f"introspection: p50 over {len(QUEUES)} queues against waiting tasks", "ms", figure=scale.FIGURE)
    for s in samples:
        x = scale.label(s.n)
        out.bars.append(Bar(x, "GET /queues", scale.one(s.queues_ms)))
        out.bars.append(Bar(x, "GET /queues/{name}", scale.one(s.queue_ms)))
        out.bars.append(Bar(x, "dashboard overview", scale.one(s.overview_ms)))
        out.bars.append(Bar(x, "dtq queues less start-up", scale.one(s.cli_query_ms)))
    return out


class Introspection:
    """Queue counts through the API, the dashboard and the CLI as the waiting tasks grow."""

    name = "introspection"

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section:
        cfg = ctx.config
        table = Table(f"Introspection: reads against waiting tasks over {len(QUEUES)} queues (dtq only)", COLUMNS)
        found = dtq_only.find(ctx, contenders, table)
        samples: list[Sample] = []
        if found is not None:
            dtq_contender, env = found
            try:
                samples = run_sizes(ctx, scale.variant(dtq_contender), env, table)
            except runner.RunFailed as exc:
                ctx.say(f"[introspection] failed: {exc}")
                table.rows.append(("", f"failed: {exc}", *[""] * (len(COLUMNS) - 2)))
        table.notes.extend(
            [
                f"The waiting tasks are no-op tasks over {len(QUEUES)} queues (`{QUEUES[0]}`...`{QUEUES[-1]}`), "
                "priorities 0-9 in turn, enqueued in steps with no worker; every read is p50 of "
                f"{cfg.reads} timed reads after one uncounted one, from a fresh `dtq api` (no tokens) over one "
                f"keep-alive connection from the harness. `GET /queues` must count every task, in every queue.",
                f"`GET /queues/{{name}}`: `{ONE}`. Dashboard overview: the requests the overview page makes before "
                f"its table and charts show (`{'`, `'.join(OVERVIEW)}`), one after the other as the page does, "
                "timed together, and its `/stats` request alone; a browser's own rendering is not in it "
                "(`tests/ui/bench_load.py` measures that).",
                "`dtq queues`: the whole `dtq queues --json` command, a new process each read (interpreter start, "
                "imports, connecting); less start-up: minus the p50 of `dtq queues --help` (the same imports, no "
                "Redis; "
                f"{', '.join(f'{s.floor_ms:.0f}' for s in samples) or '-'} ms at the sizes above), run in turn "
                "with it.",
                "Redis CPU per `GET /queues`: the queue server's `INFO cpu` delta over those reads, per read.",
                f"Goal (issue 14): each at most {GOAL_MS:.0f} ms at 1,000,000 waiting tasks.",
            ]
        )
        intro = (
            "How long reading queue counts takes as the waiting tasks grow to "
            f"{cfg.backlog_sizes[-1]:,} over {len(QUEUES)} queues."
        )
        return Section("Scale 5: introspection (dtq only)", intro, [table], [chart(samples)] if samples else [])
