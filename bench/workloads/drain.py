"""Workload 1: enqueue N no-op tasks, then start K workers and time the drain."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench import runner
from bench.config import scaled_drain_n
from bench.contender import Contender
from bench.context import Context
from bench.results import Bar, Chart, Section, Table
from bench.stats import Spread
from bench.venvs import Env

COLUMNS = (
    "Contender",
    "Workers",
    "N",
    "Enqueue (tasks/s)",
    "Drain from start (tasks/s)",
    "Drain from first completion (tasks/s)",
    "Boot to first completion (s)",
    "Redis cmds/task",
    "Redis CPU µs/task",
    "Other CPU before (%)",
)


@dataclass(frozen=True)
class Sample:
    """One timed drain."""

    enqueue_rate: float
    drain_rate: float
    rate_from_first: float
    boot_s: float
    commands_per_task: float
    cpu_us_per_task: float
    background_pct: float


def drain_once(
    ctx: Context, contender: Contender, env: Env, *, k: int, n: int, tag: str, timeout_s: float | None = None
) -> Sample:
    """Enqueue ``n``, then time ``k`` workers draining them (``timeout_s`` for each step, if given)."""
    background = runner.wait_quiet(ctx)
    runner.reset(ctx)
    produced = runner.produce(ctx, contender, env, "bulk", str(n), timeout_s=timeout_s)
    before = ctx.queue.stats()
    started = time.perf_counter()
    group = runner.start_workers(ctx, contender, env, k, tag)
    try:
        progress = runner.wait_for(ctx, group, n, started, timeout_s or ctx.config.drain_timeout_s)
        after = ctx.queue.stats()
    finally:
        group.stop()
    return Sample(
        enqueue_rate=n / produced["seconds"],
        drain_rate=n / (progress.done_at - started),
        rate_from_first=progress.rate_from_first(n),
        boot_s=progress.boot_s,
        commands_per_task=(after.commands - before.commands) / n,
        cpu_us_per_task=(after.cpu_s - before.cpu_s) / n * 1e6,
        background_pct=background * 100.0,
    )


def _row(contender: Contender, k: int, n: int, samples: list[Sample]) -> tuple[str, ...]:
    def spread(attr: str, digits: int) -> str:
        return Spread.of([getattr(s, attr) for s in samples]).render(digits)

    return (
        contender.name,
        str(k),
        f"{n:,}",
        spread("enqueue_rate", 0),
        spread("drain_rate", 0),
        spread("rate_from_first", 0),
        spread("boot_s", 2),
        spread("commands_per_task", 1),
        spread("cpu_us_per_task", 1),
        spread("background_pct", 0),
    )


def _failed(contender: Contender, k: int, n: int, reason: str) -> tuple[str, ...]:
    return (contender.name, str(k), f"{n:,}", f"failed: {reason}", *([""] * (len(COLUMNS) - 4)))


class Drain:
    """No-op drain with 1 and 2 worker processes, after one uncounted warm-up drain."""

    name = "drain"

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section:
        table = Table("No-op drain", COLUMNS)
        chart = Chart("No-op drain rate from worker start (median, min-max)", "tasks/s")
        steady = Chart("No-op drain rate from first completion, boot excluded (median, min-max)", "tasks/s")
        for contender in contenders:
            self._contender(ctx, contender, table, (chart, steady))
        cfg = ctx.config
        table.notes.extend(
            [
                f"{cfg.repeats} repeat(s) per row, shown as median [min-max]; one uncounted warm-up "
                "drain with 1 worker before them.",
                "Drain from start: N / (time from the worker start request until the completion "
                "counter reached N), so it includes interpreter start-up and imports. Drain from "
                "first completion leaves boot out: (N - count at first completion) / time since.",
                "Redis cmds/task and CPU µs/task: `INFO commandstats` (INFO itself excluded) and "
                "`INFO cpu` user+sys deltas of the queue server from just before the workers start "
                "until the drain ends, divided by N; idle polling during boot is included. The "
                "completion counter is on a second Redis server, so it is not in these figures.",
                "Other CPU before: share of both cores busy in the 0.5 s before the run, when none of "
                "the harness's processes run, i.e. other work on a shared machine. Each run first waits "
                f"up to {cfg.quiet_wait_s:.0f} s for it to drop under "
                f"{runner.QUIET_BUSY_FRACTION:.0%} (within a {cfg.quiet_budget_s:.0f} s budget for the "
                "whole run); high values mean depressed, noisy figures.",
            ]
        )
        for contender in contenders:
            if contender.drain_n is not None:
                table.notes.append(
                    f"{contender.name} drains only {scaled_drain_n(cfg, contender.drain_n):,} tasks "
                    f"(instead of {cfg.drain_n:,}) because it is slow; its rates are per second, "
                    f"so they extrapolate to {cfg.drain_n:,} directly."
                )
        intro = (
            f"{cfg.drain_n:,} no-op tasks are enqueued first (the enqueue rate is the "
            "producer's), then K worker processes are started and timed until all are done."
        )
        return Section("Workload 1: no-op drain", intro, [table], [chart, steady])

    def _contender(self, ctx: Context, contender: Contender, table: Table, charts: tuple[Chart, Chart]) -> None:
        n = scaled_drain_n(ctx.config, contender.drain_n)
        env = ctx.env_of(contender)
        if env is None:
            reason = ctx.failures.get(contender.name, "not installed")
            table.rows.extend(_failed(contender, k, n, reason) for k in ctx.config.worker_counts)
            return
        ctx.say(f"[drain] {contender.name}: warm-up (N={n:,}, 1 worker)")
        try:
            drain_once(ctx, contender, env, k=1, n=n, tag="drain-warmup")
        except runner.RunFailed as exc:
            # A contender that cannot drain once will not drain six more times; skipping keeps
            # one broken contender from spending the run's time budget on timeouts.
            ctx.say(f"[drain] {contender.name}: warm-up failed: {exc}")
            reason = f"warm-up: {exc}"
            table.rows.extend(_failed(contender, k, n, reason) for k in ctx.config.worker_counts)
            return
        for k in ctx.config.worker_counts:
            samples: list[Sample] = []
            for i in range(ctx.config.repeats):
                try:
                    sample = drain_once(ctx, contender, env, k=k, n=n, tag=f"drain-k{k}-r{i}")
                except runner.RunFailed as exc:
                    ctx.say(f"[drain] {contender.name} k={k} run {i}: failed: {exc}")
                    table.rows.append(_failed(contender, k, n, str(exc)))
                    break
                ctx.say(
                    f"[drain] {contender.name} k={k} run {i}: {sample.drain_rate:,.0f}/s "
                    f"(from first {sample.rate_from_first:,.0f}/s, boot {sample.boot_s:.2f} s, "
                    f"enqueue {sample.enqueue_rate:,.0f}/s)"
                )
                samples.append(sample)
            else:
                table.rows.append(_row(contender, k, n, samples))
                series = f"{k} worker{'s' if k > 1 else ''}"
                charts[0].bars.append(Bar(contender.name, series, Spread.of([s.drain_rate for s in samples])))
                charts[1].bars.append(Bar(contender.name, series, Spread.of([s.rate_from_first for s in samples])))
