"""Workload 7: Redis memory per waiting task, every contender, no worker running.

For each size N: empty the queue server, read ``used_memory``, run the contender's own producer
(``open_producer().bulk(N)`` through ``bench.producer``, as the drain does), read ``used_memory``
again once the producer has exited; the difference divided by N is one row. For dtq the keys
the tasks left are also weighed one by one (``MEMORY USAGE key SAMPLES 0``), found by scanning,
so the breakdown follows dtq's key layout whatever it is at the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis

from bench import runner
from bench.contender import Contender
from bench.context import Context
from bench.results import Bar, Chart, Section, Table
from bench.stats import Spread
from bench.workloads import dtq_only

# Keys holding less than this per task are summed into one "other keys" line of the breakdown.
SMALL_KEY_BYTES_PER_TASK = 1.0
SCAN_COUNT = 1000


@dataclass(frozen=True)
class KeyWeight:
    """One key's share of the memory the waiting tasks take."""

    name: str
    type: str
    elements: int
    bytes: int


@dataclass(frozen=True)
class Sample:
    n: int
    bytes_per_task: float
    seconds: float
    keys: tuple[KeyWeight, ...] = ()


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def _elements(client: redis.Redis, key: bytes, kind: str) -> int:
    size_of = {"hash": client.hlen, "zset": client.zcard, "set": client.scard, "list": client.llen,
               "stream": client.xlen, "string": client.strlen}  # fmt: skip
    return int(size_of[kind](key)) if kind in size_of else 0


def weigh_keys(client: redis.Redis) -> list[KeyWeight]:
    """Every key on the server with its type, element count and ``MEMORY USAGE`` (all samples)."""
    weights = []
    for key in client.scan_iter(count=SCAN_COUNT):
        raw = client.type(key)
        kind = raw.decode() if isinstance(raw, bytes) else str(raw)
        usage = client.memory_usage(key, samples=0) or 0
        weights.append(KeyWeight(key.decode(errors="replace"), kind, _elements(client, key, kind), int(usage)))
    return sorted(weights, key=lambda w: -w.bytes)


def measure(ctx: Context, contender: Contender, n: int, breakdown: bool) -> Sample:
    env = ctx.env_of(contender)
    if env is None:
        raise runner.RunFailed(ctx.failures.get(contender.name, "not installed"))
    runner.reset(ctx)
    before = used_memory(ctx.queue.client)
    # The slowest producers enqueue ~2,500 tasks/s; a million of them needs more than the default.
    produced = runner.produce(
        ctx, contender, env, "bulk", str(n), timeout_s=max(ctx.config.produce_timeout_s, n / 1000)
    )
    after = used_memory(ctx.queue.client)
    keys = tuple(weigh_keys(ctx.queue.client)) if breakdown else ()
    return Sample(n, (after - before) / n, produced["seconds"], keys)


def breakdown_table(samples: Sequence[Sample]) -> Table:
    """dtq's bytes per task key by key, one column per size (keys matched by name)."""
    columns = ("Key", "Type", *(f"Elements at {s.n:,}" for s in samples), *(f"B/task at {s.n:,}" for s in samples))
    table = Table("Where dtq's bytes go (MEMORY USAGE per key / N)", columns)
    largest = samples[-1]
    by_size = [{k.name: k for k in s.keys} for s in samples]
    big = [k for k in largest.keys if k.bytes / largest.n >= SMALL_KEY_BYTES_PER_TASK]
    for key in big:
        found = [sizes.get(key.name) for sizes in by_size]
        elements = [f"{k.elements:,}" if k else "-" for k in found]
        per_task = [f"{k.bytes / s.n:,.1f}" if k else "-" for k, s in zip(found, samples, strict=True)]
        table.rows.append((f"`{key.name}`", key.type, *elements, *per_task))
    big_names = {k.name for k in big}
    rest = [[k for k in s.keys if k.name not in big_names] for s in samples]
    table.rows.append(
        (
            "other keys",
            "",
            *(f"{len(r):,} keys" for r in rest),
            *(f"{sum(k.bytes for k in r) / s.n:,.1f}" for r, s in zip(rest, samples, strict=True)),
        )
    )
    table.rows.append(
        (
            "sum of MEMORY USAGE",
            "",
            *[""] * len(samples),
            *(f"{sum(k.bytes for k in s.keys) / s.n:,.1f}" for s in samples),
        )
    )
    table.rows.append(("`used_memory` delta", "", *[""] * len(samples), *(f"{s.bytes_per_task:,.1f}" for s in samples)))
    table.notes.append(
        "Keys found with SCAN after the enqueue, weighed with `MEMORY USAGE key SAMPLES 0` (every element, "
        f"not an estimate); keys under {SMALL_KEY_BYTES_PER_TASK:g} B/task at the largest size are summed as "
        "other keys. The delta exceeds the sum by what MEMORY USAGE does not count: Redis's key table entries, "
        "allocator rounding and the loaded Lua scripts."
    )
    return table


class Memory:
    """``used_memory`` per waiting no-op task at each of the config's sizes, every contender."""

    name = "memory"

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section:
        sizes = ctx.config.memory_sizes
        table = Table(
            "Redis memory per waiting task",
            ("Contender", *(f"B/task at {n:,}" for n in sizes), "Enqueue of the largest N (s)"),
        )
        chart = Chart("Redis memory per waiting no-op task (used_memory delta / N)", "bytes per task")
        tables = [table]
        for contender in contenders:
            samples = self._contender(ctx, contender, sizes, table)
            for s in samples:
                chart.bars.append(Bar(contender.name, f"{s.n:,} tasks", _one(s.bytes_per_task)))
            if contender.name == dtq_only.NAME and samples:
                tables.append(breakdown_table(samples))
        table.notes.extend(
            [
                "One run per size: `FLUSHALL`, `INFO memory` `used_memory`, the contender's producer enqueues N no-op "
                "tasks (`open_producer().bulk(N)`, the same call as the drain's; see Contenders for what each uses) "
                "with no worker running, the producer exits, `used_memory` again; (after - before) / N.",
                "No repeats. Every contender's own defaults stand (Celery's message body, RQ's "
                "job hash, ...), as in the drain. Fixed costs (a library's loaded Lua scripts, its bookkeeping "
                "keys) are in the delta too; they fade as N grows, so the larger size is the per-task figure.",
                "Enqueue of the largest N: the producer's own timing, for scale (the drain's enqueue rates are "
                "workload 1's).",
            ]
        )
        intro = (
            "How many bytes of Redis memory a waiting task costs: what a backlog of millions costs in RAM. "
            f"Sizes: {', '.join(f'{n:,}' for n in sizes)} tasks."
        )
        return Section("Workload 7: Redis memory per waiting task", intro, tables, [chart])

    def _contender(self, ctx: Context, contender: Contender, sizes: Sequence[int], table: Table) -> list[Sample]:
        samples: list[Sample] = []
        for n in sizes:
            try:
                sample = measure(ctx, contender, n, breakdown=contender.name == dtq_only.NAME)
            except runner.RunFailed as exc:
                ctx.say(f"[memory] {contender.name} N={n:,}: failed: {exc}")
                table.rows.append((contender.name, f"failed: {exc}", *[""] * len(sizes)))
                return []
            ctx.say(f"[memory] {contender.name} N={n:,}: {sample.bytes_per_task:,.1f} B/task ({sample.seconds:.1f} s)")
            samples.append(sample)
        table.rows.append(
            (contender.name, *(f"{s.bytes_per_task:,.0f}" for s in samples), f"{samples[-1].seconds:,.1f}")
        )
        runner.reset(ctx)  # a million waiting tasks is a gigabyte for some; do not keep it
        return samples


def _one(value: float) -> Spread:
    return Spread(value, value, value)
