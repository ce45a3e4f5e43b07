"""Scale 4 (dtq only): a worker on many queues, busy and idle.

- Busy: N no-op tasks on one queue, drained by one ``dtq worker`` consuming that queue alone,
  and by one consuming it and 99 empty queues (the drain of workload 1 otherwise), alternating
  over the repeats. Goal: the second drains at least 90 % of the first's rate.
- Idle: one ``dtq worker`` consuming 1, 100 and 1,000 empty queues, nothing enqueued; its
  process's CPU, and the queue server's CPU and commands, over a fixed window once it is up.
  Goal: under 1 % of a core at 1,000 queues.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import machine, runner
from bench.contender import Contender
from bench.contenders import dtq_
from bench.context import Context
from bench.results import Bar, Chart, Section, Table
from bench.stats import Spread
from bench.venvs import Env
from bench.workloads import dtq_only, scale
from bench.workloads.drain import Sample, drain_once

BUSY = "default"  # the queue the producer entrypoint fills
OTHERS = 99
SETTLE_S = 2.0
"""After the worker's first liveness stamp, before the idle window: start-up work is over."""
BUSY_COLUMNS = (
    "Worker consumes",
    "N",
    "Drain from first completion (tasks/s)",
    "Drain from start (tasks/s)",
    "Redis cmds/task",
    "Redis CPU µs/task",
    "Ratio to one queue",
    "Other CPU before (%)",
)
IDLE_COLUMNS = (
    "Idle queues",
    "Worker CPU (% of a core)",
    "Redis CPU (% of a core)",
    "Redis commands/s",
    "Window (s)",
    "Other CPU before (%)",
)


@dataclass(frozen=True)
class Idle:
    queues: int
    worker_pct: float
    redis_pct: float
    commands_per_s: float
    window_s: float
    background_pct: float


def consuming(dtq_contender: Contender, queues: Sequence[str]) -> Contender:
    """dtq whose workers consume ``queues`` (the no-op app of workload 1)."""
    argvs = dtq_.workers()

    def worker_argv(bin_dir: Path, k: int) -> list[list[str]]:
        out = []
        for argv in argvs(bin_dir, k):
            at = argv.index("--queues") + 1
            out.append([*argv[:at], ",".join(queues), *argv[at + 1 :]])
        return out

    return dataclasses.replace(scale.variant(dtq_contender), worker_argv=worker_argv)


def idle_once(ctx: Context, dtq_contender: Contender, env: Env, count: int) -> Idle:
    background = runner.wait_quiet(ctx)
    runner.reset(ctx)
    queues = [f"idle{i:04}" for i in range(count)]
    stamp = dtq_only.health_file(ctx, "worker")
    stamp.unlink(missing_ok=True)
    worker = consuming(dtq_contender, queues).worker_argv(env.bin_dir, 1)
    group = dtq_only.start(ctx, scale.variant(dtq_contender), worker, f"many-queues-idle-{count}")
    try:
        dtq_only.wait_until(ctx, group, stamp.exists, "dtq worker")
        time.sleep(SETTLE_S)
        pid = group.pids()[0]
        cpu, redis, started = machine.process_cpu_s(pid), ctx.queue.stats(), time.perf_counter()
        time.sleep(ctx.config.idle_seconds)
        cpu_s, redis_after, window = machine.process_cpu_s(pid) - cpu, ctx.queue.stats(), time.perf_counter() - started
        if group.exited():
            raise runner.RunFailed(f"the idle worker exited: {group.tail(2)[:160]}")
    finally:
        group.stop()
    return Idle(
        queues=count,
        worker_pct=cpu_s / window * 100.0,
        redis_pct=(redis_after.cpu_s - redis.cpu_s) / window * 100.0,
        commands_per_s=(redis_after.commands - redis.commands) / window,
        window_s=window,
        background_pct=background * 100.0,
    )


def busy(ctx: Context, dtq_contender: Contender, env: Env) -> dict[str, list[Sample]]:
    """Alternating drains: the busy queue alone, then with 99 idle ones, ``repeats`` times."""
    n = ctx.config.backlog_sizes[1]
    variants = {
        "1 queue": consuming(dtq_contender, [BUSY]),
        f"{OTHERS + 1} queues (1 busy)": consuming(dtq_contender, [BUSY, *(f"q{i:02}" for i in range(1, OTHERS + 1))]),
    }
    samples: dict[str, list[Sample]] = {label: [] for label in variants}
    drain_once(ctx, variants["1 queue"], env, k=1, n=2_000, tag="many-queues-warmup")
    for i in range(ctx.config.repeats):
        for label, contender in variants.items():
            sample = drain_once(ctx, contender, env, k=1, n=n, tag=f"many-queues-{label.split()[0]}-r{i}")
            ctx.say(f"[many-queues] {label} run {i}: {sample.rate_from_first:,.0f}/s from first completion")
            samples[label].append(sample)
    return samples


def _busy_rows(n: int, samples: dict[str, list[Sample]]) -> list[tuple[str, ...]]:
    base = statistics.median(s.rate_from_first for s in samples["1 queue"])
    rows: list[tuple[str, ...]] = []
    for label, runs in samples.items():

        def spread(attr: str, digits: int, runs: list[Sample] = runs) -> str:
            return Spread.of([getattr(s, attr) for s in runs]).render(digits)

        ratio = statistics.median(s.rate_from_first for s in runs) / base
        rows.append(
            (
                label,
                f"{n:,}",
                spread("rate_from_first", 0),
                spread("drain_rate", 0),
                spread("commands_per_task", 2),
                spread("cpu_us_per_task", 1),
                f"{ratio:.0%}",
                spread("background_pct", 0),
            )
        )
    return rows


def _idle_row(s: Idle) -> tuple[str, ...]:
    return (
        f"{s.queues:,}",
        f"{s.worker_pct:.2f}",
        f"{s.redis_pct:.2f}",
        f"{s.commands_per_s:,.1f}",
        f"{s.window_s:.0f}",
        f"{s.background_pct:.0f}",
    )


class ManyQueues:
    """One busy queue among 100 against it alone; an idle worker on 1, 100 and 1,000 queues."""

    name = "many-queues"

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section:
        busy_table = Table("Many queues: one busy among 100 (dtq only)", BUSY_COLUMNS)
        idle_table = Table("Many queues: an idle worker against its number of queues (dtq only)", IDLE_COLUMNS)
        drain_chart = Chart("many queues: drain rate of one busy queue", "tasks/s", figure=scale.FIGURE)
        idle_chart = Chart("many queues: idle worker against queues consumed", "% of a core", figure=scale.FIGURE)
        found = dtq_only.find(ctx, contenders, busy_table)
        if found is not None:
            dtq_contender, env = found
            try:
                samples = busy(ctx, dtq_contender, env)
                busy_table.rows.extend(_busy_rows(ctx.config.backlog_sizes[1], samples))
                for label, runs in samples.items():
                    drain_chart.bars.append(Bar(label, "1 worker", Spread.of([s.rate_from_first for s in runs])))
            except runner.RunFailed as exc:
                ctx.say(f"[many-queues] busy: failed: {exc}")
                busy_table.rows.append(("", f"failed: {exc}", *[""] * (len(BUSY_COLUMNS) - 2)))
            self._idle(ctx, dtq_contender, env, idle_table, idle_chart)
        self._notes(ctx, busy_table, idle_table)
        intro = "What consuming many queues costs a worker: when one of them is busy, and when all are idle."
        return Section("Scale 4: many queues (dtq only)", intro, [busy_table, idle_table], [drain_chart, idle_chart])

    def _idle(self, ctx: Context, dtq_contender: Contender, env: Env, table: Table, chart: Chart) -> None:
        for count in ctx.config.idle_queue_counts:
            try:
                sample = idle_once(ctx, dtq_contender, env, count)
            except runner.RunFailed as exc:
                ctx.say(f"[many-queues] idle on {count:,}: failed: {exc}")
                table.rows.append((f"{count:,}", f"failed: {exc}", *[""] * (len(IDLE_COLUMNS) - 2)))
                continue
            ctx.say(f"[many-queues] idle: {' | '.join(_idle_row(sample))}")
            table.rows.append(_idle_row(sample))
            chart.bars.append(Bar(scale.label(count), "dtq worker", scale.one(sample.worker_pct)))
            chart.bars.append(Bar(scale.label(count), "Redis", scale.one(sample.redis_pct)))

    @staticmethod
    def _notes(ctx: Context, busy_table: Table, idle_table: Table) -> None:
        cfg = ctx.config
        busy_table.notes.extend(
            [
                f"{cfg.repeats} repeat(s) of each, alternating, median [min-max], after one uncounted warm-up; each "
                f"the drain of workload 1 ({cfg.backlog_sizes[1]:,} no-op tasks on `{BUSY}`, then one "
                "`dtq worker --concurrency 100`), the worker consuming `default` alone or `default` and 99 queues "
                "`q01`...`q99` that stay empty. Ratio: median drain rate from first completion over the "
                "one-queue median. Goal (issue 14): ≥ 90 %.",
            ]
        )
        idle_table.notes.extend(
            [
                "One run per count: a `dtq worker --concurrency 100` consuming that many queues "
                "(`idle0000`...), nothing enqueued; from its first liveness stamp plus "
                f"{SETTLE_S:.0f} s, its process's user+system CPU (from /proc) and the queue server's "
                f"(`INFO cpu`, `INFO commandstats`) over a {cfg.idle_seconds:.0f} s window. Goal (issue 14): "
                "under 1 % of a core at 1,000 queues.",
            ]
        )
