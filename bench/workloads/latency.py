"""Workload 2: pickup latency at a fixed enqueue rate with one idle worker process."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench import runner
from bench.contender import Contender
from bench.context import Context
from bench.results import Bar, Chart, Section, Table
from bench.stats import Spread, percentile
from bench.venvs import Env

WARM_TASKS = 20
IDLE_BEFORE_S = 1.0
BACKLOG_TIMEOUT_S = 120.0
# Below this share of the tasks done by the time the producer stops, the worker is not keeping up.
KEEP_UP_SHARE = 0.5
# A median this high is queueing behind a backlog, not pickup: the worker cannot keep the rate.
BACKLOG_P50_MS = 1000.0
COLUMNS = (
    "Contender",
    "p50 (ms)",
    "p99 (ms)",
    "max (ms)",
    "Samples",
    "Producer rate (tasks/s)",
    "Other CPU before (%)",
)


class CannotKeepUp(runner.RunFailed):
    """The worker cannot sustain the producer's rate; reported as such, not as a failure."""


@dataclass(frozen=True)
class Sample:
    p50_ms: float
    p99_ms: float
    max_ms: float
    count: int
    producer_rate: float
    background_pct: float


def latency_once(ctx: Context, contender: Contender, env: Env, tag: str, rate: float) -> Sample:
    cfg = ctx.config
    background = runner.wait_quiet(ctx)
    runner.reset(ctx)
    started = time.perf_counter()
    group = runner.start_workers(ctx, contender, env, 1, tag)
    try:
        # A few untimed tasks prove the worker is up and connected before it is left idle.
        runner.produce(ctx, contender, env, "bulk", str(WARM_TASKS))
        runner.wait_for(ctx, group, WARM_TASKS, started, cfg.boot_timeout_s)
        ctx.probe.flush()
        time.sleep(IDLE_BEFORE_S)
        sent = runner.produce(ctx, contender, env, "paced", str(rate), str(cfg.latency_seconds))
        n = int(sent["n"])
        done = runner.completed(ctx)
        if done < n * KEEP_UP_SHARE:
            # Its figures would be the queueing delay of a growing backlog, not pickup latency,
            # and working the backlog off would take minutes per repeat.
            rate = done / sent["seconds"]
            raise CannotKeepUp(
                f"cannot sustain {rate:.0f} tasks/s: {done:,} of {n:,} done when the "
                f"producer finished (about {rate:,.0f} tasks/s)"
            )
        # Generous: a contender just below the rate still has a backlog to work off.
        runner.wait_for(ctx, group, n, time.perf_counter(), BACKLOG_TIMEOUT_S)
        samples = runner.recorded_ms(ctx, n, "latency")
    finally:
        group.stop()
    return Sample(
        percentile(samples, 50),
        percentile(samples, 99),
        max(samples),
        len(samples),
        n / sent["seconds"],
        background * 100.0,
    )


class Latency:
    """One producer at a fixed rate, paced by absolute deadlines; (start - enqueue) per task."""

    name = "latency"

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section:
        cfg = ctx.config
        tables, charts = [], []
        for rate in cfg.latency_rates:
            table = Table(f"Pickup latency at {rate:,.0f} tasks/s", COLUMNS)
            chart = Chart(f"Pickup latency at {rate:,.0f}/s (median of repeats, min-max)", "ms", log_scale=True)
            for contender in contenders:
                env = ctx.env_of(contender)
                if env is None:
                    reason = ctx.failures.get(contender.name, "not installed")
                    table.rows.append(_failed(contender, reason))
                    continue
                samples = self._repeats(ctx, contender, env, table, rate)
                if samples:
                    table.rows.append(_row(contender, samples))
                    chart.bars.append(Bar(contender.name, "p50", Spread.of([s.p50_ms for s in samples])))
                    chart.bars.append(Bar(contender.name, "p99", Spread.of([s.p99_ms for s in samples])))
            table.notes.extend(
                [
                    f"{cfg.repeats} repeat(s), each with a freshly started worker; p50/p99/max are "
                    "computed per repeat, then shown as median [min-max] over repeats.",
                    "Latency = the task's `time.time()` on entry minus the `time.time()` the producer put "
                    "in the payload just before the enqueue call (same machine, same clock).",
                    "Other CPU before: as in the drain table (other work on the machine before each run).",
                ]
            )
            tables.append(table)
            charts.append(chart)
        rates = " and ".join(f"{r:,.0f}" for r in cfg.latency_rates)
        intro = (
            f"One worker process is started, proven up with {WARM_TASKS} untimed tasks and "
            f"left idle for {IDLE_BEFORE_S:.0f} s; then one producer enqueues one task at a "
            f"time at {rates} tasks/s (one table each) for {cfg.latency_seconds:.0f} s, each "
            "send at start + i/rate (absolute deadlines, so no sleep drift). `dtq-sync` is dtq "
            "fed by the blocking `SyncClient`, as every peer's producer is blocking."
        )
        return Section("Workload 2: pickup latency", intro, tables, charts)

    def _repeats(self, ctx: Context, contender: Contender, env: Env, table: Table, rate: float) -> list[Sample]:
        samples: list[Sample] = []
        for i in range(ctx.config.repeats):
            try:
                sample = latency_once(ctx, contender, env, f"latency-{rate:.0f}-r{i}", rate)
            except CannotKeepUp as exc:
                ctx.say(f"[latency] {contender.name} at {rate:.0f}/s run {i}: {exc}")
                table.rows.append((contender.name, str(exc), *([""] * (len(COLUMNS) - 2))))
                return []
            except runner.RunFailed as exc:
                ctx.say(f"[latency] {contender.name} at {rate:.0f}/s run {i}: failed: {exc}")
                table.rows.append(_failed(contender, str(exc)))
                return []
            ctx.say(
                f"[latency] {contender.name} at {rate:.0f}/s run {i}: "
                f"p50 {sample.p50_ms:.2f} ms, p99 {sample.p99_ms:.2f} ms"
            )
            samples.append(sample)
        return samples


def _row(contender: Contender, samples: list[Sample]) -> tuple[str, ...]:
    def spread(attr: str, digits: int) -> str:
        return Spread.of([getattr(s, attr) for s in samples]).render(digits)

    return (
        contender.name,
        spread("p50_ms", 2),
        spread("p99_ms", 2),
        spread("max_ms", 1),
        spread("count", 0),
        spread("producer_rate", 1),
        spread("background_pct", 0),
    )


def _failed(contender: Contender, reason: str) -> tuple[str, ...]:
    return (contender.name, f"failed: {reason}", *([""] * (len(COLUMNS) - 2)))
