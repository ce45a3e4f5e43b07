"""Scale 2 (dtq only): scheduler lateness and CPU with 10k and with 1M tasks in the schedule.

Workload 5 with a schedule behind it: one ``dtq scheduler`` and one ``dtq worker`` run, the
schedule is filled with B no-op tasks due over the next hour (``Client.enqueue_many`` with
``at``, all due after the measured window, so none of them runs), then the producer stores
1,000 tasks/s falling due over the window, as in workload 5. Lateness is the handler's start
minus the due time; the scheduler's CPU is its process's user+system seconds over the window.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dtq
from bench import machine, runner
from bench.contender import Contender
from bench.context import Context
from bench.results import Bar, Chart, Section, Table
from bench.stats import percentile
from bench.venvs import Env
from bench.workloads import dtq_only, scale
from bench.workloads.scheduler_lateness import LEAD_S, RATE, WARM_TASKS

HOUR_S = 3600.0
BEHIND_WINDOW_S = 300.0
"""The schedule's first task falls due this long after its fill starts: after the measured window."""
COLUMNS = (
    "Tasks in the schedule",
    "Fill (tasks/s)",
    "p50 (ms)",
    "p99 (ms)",
    "max (ms)",
    "Due in the window",
    "Scheduler CPU (% of a core)",
    "Scheduler CPU per due task (µs)",
    "Redis CPU (% of a core)",
    "Other CPU before (%)",
)


@dataclass(frozen=True)
class Sample:
    backlog: int
    fill_rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    count: int
    scheduler_cpu_pct: float
    scheduler_us_per_task: float
    redis_cpu_pct: float
    background_pct: float


def schedule(backlog: int, first: float) -> Iterator[dtq.TaskRequest]:
    """``backlog`` no-op tasks due evenly from ``first`` to an hour after the fill starts."""
    step = (HOUR_S - BEHIND_WINDOW_S) / backlog
    for i in range(backlog):
        due = first + i * step
        yield scale.noop(at=datetime.fromtimestamp(due, UTC))


def once(ctx: Context, dtq_contender: Contender, env: Env, backlog: int) -> Sample:
    cfg = ctx.config
    background = runner.wait_quiet(ctx)
    runner.reset(ctx)
    stamp = dtq_only.health_file(ctx, "scheduler")
    stamp.unlink(missing_ok=True)
    worker = dtq_contender.worker_argv(env.bin_dir, 1)[0]
    tag = f"scheduled-{scale.label(backlog)}"
    group = dtq_only.start(ctx, dtq_contender, [worker, [str(env.bin_dir / "dtq"), "scheduler"]], tag)
    try:
        runner.produce(ctx, dtq_contender, env, "bulk", str(WARM_TASKS))
        runner.wait_for(ctx, group, WARM_TASKS, time.perf_counter(), cfg.boot_timeout_s)
        dtq_only.wait_until(ctx, group, stamp.exists, "dtq scheduler")
        fill_s = scale.fill(ctx, schedule(backlog, time.time() + BEHIND_WINDOW_S))
        ctx.probe.flush()
        scheduler_pid = group.pids()[1]
        cpu_before, redis_before, started = machine.process_cpu_s(scheduler_pid), ctx.queue.stats(), time.perf_counter()
        sent = runner.produce(ctx, dtq_contender, env, "scheduled", str(RATE), str(cfg.schedule_seconds), str(LEAD_S))
        if sent["first_due_in_s"] < 0:
            raise runner.RunFailed(f"enqueueing took {sent['seconds']:.1f} s, past the first due time")
        n = int(sent["n"])
        runner.wait_for(ctx, group, n, time.perf_counter(), LEAD_S + cfg.schedule_seconds + 60.0)
        elapsed = time.perf_counter() - started
        scheduler_s = machine.process_cpu_s(scheduler_pid) - cpu_before
        redis_s = ctx.queue.stats().cpu_s - redis_before.cpu_s
        samples = runner.recorded_ms(ctx, n, "lateness")
        left = sum(c.scheduled for c in scale.counts(ctx).values())
    finally:
        group.stop()
    if left != backlog:
        raise runner.RunFailed(f"{backlog:,} tasks were scheduled for later but {left:,} are still scheduled")
    return Sample(
        backlog=backlog,
        fill_rate=backlog / fill_s,
        p50_ms=percentile(samples, 50),
        p99_ms=percentile(samples, 99),
        max_ms=max(samples),
        count=len(samples),
        scheduler_cpu_pct=scheduler_s / elapsed * 100.0,
        scheduler_us_per_task=scheduler_s / n * 1e6,
        redis_cpu_pct=redis_s / elapsed * 100.0,
        background_pct=background * 100.0,
    )


def _row(s: Sample) -> tuple[str, ...]:
    return (
        f"{s.backlog:,}",
        f"{s.fill_rate:,.0f}",
        f"{s.p50_ms:.2f}",
        f"{s.p99_ms:.2f}",
        f"{s.max_ms:.1f}",
        f"{s.count:,}",
        f"{s.scheduler_cpu_pct:.1f}",
        f"{s.scheduler_us_per_task:.0f}",
        f"{s.redis_cpu_pct:.1f}",
        f"{s.background_pct:.0f}",
    )


def charts(samples: Sequence[Sample]) -> list[Chart]:
    late = Chart("scheduled: lateness at 1,000 due/s against tasks in the schedule", "ms", figure=scale.FIGURE)
    cpu = Chart("scheduled: CPU at 1,000 due/s against tasks in the schedule", "% of a core", figure=scale.FIGURE)
    for s in samples:
        x = scale.label(s.backlog)
        late.bars.append(Bar(x, "p50", scale.one(s.p50_ms)))
        late.bars.append(Bar(x, "p99", scale.one(s.p99_ms)))
        cpu.bars.append(Bar(x, "dtq scheduler", scale.one(s.scheduler_cpu_pct)))
        cpu.bars.append(Bar(x, "Redis", scale.one(s.redis_cpu_pct)))
    return [late, cpu]


class Scheduled:
    """1,000 due tasks/s through one scheduler and one worker, with 10k and 1M more scheduled."""

    name = "scheduled"

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section:
        cfg = ctx.config
        table = Table("Scheduled: lateness and scheduler CPU against the schedule's size (dtq only)", COLUMNS)
        found = dtq_only.find(ctx, contenders, table)
        samples: list[Sample] = []
        if found is not None:
            dtq_contender, env = found
            for backlog in cfg.scheduled_sizes:
                try:
                    sample = once(ctx, dtq_contender, env, backlog)
                except runner.RunFailed as exc:
                    ctx.say(f"[scheduled] {backlog:,}: failed: {exc}")
                    table.rows.append((f"{backlog:,}", f"failed: {exc}", *[""] * (len(COLUMNS) - 2)))
                    continue
                ctx.say(f"[scheduled] {' | '.join(_row(sample))}")
                table.rows.append(_row(sample))
                samples.append(sample)
        table.notes.extend(
            [
                "One run per size, each with a fresh `dtq scheduler` and `dtq worker --concurrency 100`. The "
                f"schedule is filled first (`Client.enqueue_many()` with `at`, chunks of {scale.FILL_CHUNK:,}; "
                f"Fill is its rate): tasks due evenly from {BEHIND_WINDOW_S:.0f} s after the fill starts to an "
                "hour after, so none falls due during the measured window and all must still be scheduled after it "
                "(checked with `Client.all_queue_stats()`).",
                f"Then, as in workload 5, {int(RATE * cfg.schedule_seconds):,} tasks due one per millisecond "
                f"over {cfg.schedule_seconds:.0f} s, the first {LEAD_S:.0f} s after the producer starts. "
                "Lateness: the handler's `time.time()` on entry minus the due time.",
                "Scheduler and Redis CPU: user+system CPU seconds of the `dtq scheduler` process (from /proc) and "
                "of the queue server (`INFO cpu`) from the producer's start to the last due task's completion, "
                "per second of it; per due task: the scheduler's seconds divided by the tasks that fell due.",
                "Goal (issue 14): lateness p99 and scheduler CPU at 1,000,000 scheduled as at 10,000.",
            ]
        )
        intro = (
            "Scheduled tasks falling due at 1,000 a second while the schedule holds "
            f"{' or '.join(f'{n:,}' for n in cfg.scheduled_sizes)} more tasks due over the next hour."
        )
        return Section("Scale 2: scheduled (dtq only)", intro, [table], charts(samples) if samples else [])
