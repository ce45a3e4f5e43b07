"""Workload 5 (dtq only): how late scheduled tasks start when 1,000 fall due every second.

Tasks are enqueued ahead of time with a run time (``at``), one due every millisecond over the
run; one ``dtq scheduler`` promotes them when due and one ``dtq worker`` runs them. The handler
records ``time.time()`` on entry minus the task's due time: the scheduler's and the worker's
delays together, on one machine's clock.
"""

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
from bench.workloads import dtq_only

RATE = 1000.0
LEAD_S = 3.0
"""The first task is due this long after the producer starts; all must be stored by then."""
WARM_TASKS = 20
BACKLOG_TIMEOUT_S = 60.0
COLUMNS = (
    "Contender",
    "p50 (ms)",
    "p99 (ms)",
    "max (ms)",
    "Tasks",
    "Enqueue of all (s)",
    "Other CPU before (%)",
)


@dataclass(frozen=True)
class Sample:
    p50_ms: float
    p99_ms: float
    max_ms: float
    count: int
    enqueue_s: float
    background_pct: float


def once(ctx: Context, dtq: Contender, env: Env, tag: str) -> Sample:
    cfg = ctx.config
    background = runner.wait_quiet(ctx)
    runner.reset(ctx)
    stamp = dtq_only.health_file(ctx, "scheduler")
    stamp.unlink(missing_ok=True)
    worker = dtq.worker_argv(env.bin_dir, 1)[0]
    group = dtq_only.start(ctx, dtq, [worker, [str(env.bin_dir / "dtq"), "scheduler"]], tag)
    started = time.perf_counter()
    try:
        # Untimed tasks prove the worker is up; the scheduler's first liveness stamp, that it is.
        runner.produce(ctx, dtq, env, "bulk", str(WARM_TASKS))
        runner.wait_for(ctx, group, WARM_TASKS, started, cfg.boot_timeout_s)
        dtq_only.wait_until(ctx, group, stamp.exists, "dtq scheduler")
        ctx.probe.flush()
        sent = runner.produce(ctx, dtq, env, "scheduled", str(RATE), str(cfg.schedule_seconds), str(LEAD_S))
        if sent["first_due_in_s"] < 0:
            raise runner.RunFailed(f"enqueueing took {sent['seconds']:.1f} s, past the first due time")
        n = int(sent["n"])
        runner.wait_for(ctx, group, n, time.perf_counter(), LEAD_S + cfg.schedule_seconds + BACKLOG_TIMEOUT_S)
        samples = runner.recorded_ms(ctx, n, "lateness")
    finally:
        group.stop()
    return Sample(
        p50_ms=percentile(samples, 50),
        p99_ms=percentile(samples, 99),
        max_ms=max(samples),
        count=len(samples),
        enqueue_s=sent["seconds"],
        background_pct=background * 100.0,
    )


class SchedulerLateness:
    """1,000 due tasks/s through one scheduler and one worker; (start - due time) per task."""

    name = "scheduler-lateness"

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section:
        cfg = ctx.config
        table = Table("Scheduler lateness (dtq only)", COLUMNS)
        chart = Chart(f"dtq scheduler lateness at {RATE:,.0f} due tasks/s (median, min-max)", "ms", log_scale=True)
        found = dtq_only.find(ctx, contenders, table)
        if found is not None:
            samples = self._repeats(ctx, *found, table)
            if samples:
                table.rows.append(_row(samples))
                for name in ("p50", "p99", "max"):
                    spread = Spread.of([getattr(s, f"{name}_ms") for s in samples])
                    chart.bars.append(Bar("dtq scheduler + worker", name, spread))
        table.notes.extend(
            [
                f"{cfg.repeats} repeat(s), each with a fresh `dtq scheduler` and `dtq worker --concurrency "
                f"100`; p50/p99/max per repeat, then median [min-max] over repeats.",
                f"{int(RATE * cfg.schedule_seconds):,} tasks due one per millisecond over "
                f"{cfg.schedule_seconds:.0f} s, the first {LEAD_S:.0f} s after the producer starts; "
                "all are stored (`Client.enqueue_many()` with `at`, chunks of 1,000) before the first "
                "falls due. Due times are whole milliseconds, the resolution dtq stores.",
                "Lateness = the handler's `time.time()` on entry minus the task's due time: the "
                "scheduler's promotion delay plus the worker's pickup (workload 2 measures pickup alone).",
            ]
        )
        intro = (
            "Scheduled tasks, enqueued ahead of time, falling due at a steady 1,000 a second, with one "
            "scheduler promoting them and one worker running them."
        )
        return Section("Workload 5: scheduler lateness (dtq only)", intro, [table], [chart])

    def _repeats(self, ctx: Context, dtq: Contender, env: Env, table: Table) -> list[Sample]:
        samples: list[Sample] = []
        for i in range(ctx.config.repeats):
            try:
                sample = once(ctx, dtq, env, f"scheduler-r{i}")
            except runner.RunFailed as exc:
                ctx.say(f"[scheduler-lateness] run {i}: failed: {exc}")
                table.rows.append((dtq.name, f"failed: {exc}", *[""] * (len(COLUMNS) - 2)))
                return []
            ctx.say(
                f"[scheduler-lateness] run {i}: p50 {sample.p50_ms:.2f} ms, p99 {sample.p99_ms:.2f} ms, "
                f"max {sample.max_ms:.1f} ms ({sample.count:,} tasks, enqueued in {sample.enqueue_s:.2f} s)"
            )
            samples.append(sample)
        return samples


def _row(samples: list[Sample]) -> tuple[str, ...]:
    def spread(attr: str, digits: int) -> str:
        return Spread.of([getattr(s, attr) for s in samples]).render(digits)

    return (
        dtq_only.NAME,
        spread("p50_ms", 2),
        spread("p99_ms", 2),
        spread("max_ms", 1),
        spread("count", 0),
        spread("enqueue_s", 2),
        spread("background_pct", 0),
    )
