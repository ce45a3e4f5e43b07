"""Workload 6 (dtq only): drain of tasks that each await 1 ms of I/O, 100 at a time.

The realistic I/O-bound case: a handler that waits on the network is idle while it waits, so
one async worker process overlaps many of them. ``asyncio.sleep(0.001)`` stands in for the call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bench import runner
from bench.contender import Contender
from bench.contenders import dtq_
from bench.context import Context
from bench.results import Section, Table
from bench.stats import Spread
from bench.venvs import Env
from bench.workloads import dtq_only
from bench.workloads.drain import Sample, drain_once

TASKS_MODULE = "bench.contenders.dtq_io_tasks"
CONCURRENCY = 100
IO_MS = 1.0  # what the handler in TASKS_MODULE awaits
COLUMNS = (
    "Contender",
    "Worker",
    "N",
    "Drain from start (tasks/s)",
    "Drain from first completion (tasks/s)",
    "Boot to first completion (s)",
    "Redis cmds/task",
    "Redis CPU µs/task",
    "Other CPU before (%)",
)


def io_variant(ctx: Context, dtq: Contender) -> Contender:
    """dtq with the 1 ms I/O handler and producer instead of the no-op ones."""
    return dataclasses.replace(
        dtq,
        tasks_module=TASKS_MODULE,
        worker_argv=dtq_.workers(f"{TASKS_MODULE}:app", CONCURRENCY),
        env={**dtq.env, "DTQ_WORKER_HEALTH_FILE": str(dtq_only.health_file(ctx, "worker"))},
    )


class IoDrain:
    """20,000 tasks awaiting ``asyncio.sleep(0.001)``, one ``dtq worker --concurrency 100``."""

    name = "io-drain"

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section:
        cfg = ctx.config
        table = Table("I/O-bound drain (dtq only)", COLUMNS)
        found = dtq_only.find(ctx, contenders, table)
        if found is not None:
            dtq, env = found
            self._measure(ctx, io_variant(ctx, dtq), env, table)
        table.notes.extend(
            [
                f"{cfg.repeats} repeat(s), median [min-max], after one uncounted warm-up drain; the "
                "columns mean what they mean in the no-op drain table (workload 1), whose one-worker "
                "dtq row is the same drain without the I/O.",
                f"Each handler awaits `asyncio.sleep({IO_MS / 1000:g})` and then counts itself done. "
                f"With {CONCURRENCY} in flight, the sleeps alone would allow "
                f"{CONCURRENCY / IO_MS * 1000:,.0f} tasks/s; the event loop's timers are "
                "millisecond-grained, so a 1 ms sleep lasts 1-2 ms, and below that bound the worker "
                "process's CPU is the limit.",
            ]
        )
        intro = (
            f"{cfg.io_drain_n:,} tasks whose async handler awaits 1 ms of simulated I/O, enqueued first, "
            f"then drained by one `dtq worker --concurrency {CONCURRENCY}` process."
        )
        return Section("Workload 6: I/O-bound drain (dtq only)", intro, [table])

    def _measure(self, ctx: Context, io: Contender, env: Env, table: Table) -> None:
        n = ctx.config.io_drain_n
        settings = f"1 x `dtq worker --concurrency {CONCURRENCY}`"
        samples: list[Sample] = []
        try:
            ctx.say(f"[io-drain] warm-up (N={n:,})")
            drain_once(ctx, io, env, k=1, n=n, tag="io-drain-warmup")
            for i in range(ctx.config.repeats):
                sample = drain_once(ctx, io, env, k=1, n=n, tag=f"io-drain-r{i}")
                ctx.say(
                    f"[io-drain] run {i}: {sample.drain_rate:,.0f}/s (from first "
                    f"{sample.rate_from_first:,.0f}/s, boot {sample.boot_s:.2f} s)"
                )
                samples.append(sample)
        except runner.RunFailed as exc:
            ctx.say(f"[io-drain] failed: {exc}")
            table.rows.append((dtq_only.NAME, settings, f"{n:,}", f"failed: {exc}", *[""] * (len(COLUMNS) - 4)))
            return

        def spread(attr: str, digits: int) -> str:
            return Spread.of([getattr(s, attr) for s in samples]).render(digits)

        table.rows.append(
            (
                dtq_only.NAME,
                settings,
                f"{n:,}",
                spread("drain_rate", 0),
                spread("rate_from_first", 0),
                spread("boot_s", 2),
                spread("commands_per_task", 1),
                spread("cpu_us_per_task", 1),
                spread("background_pct", 0),
            )
        )
