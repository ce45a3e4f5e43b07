"""Workload 3: the private Redis server's own ceiling, measured with ``redis-benchmark``."""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Sequence

from bench import procs, runner
from bench.contender import Contender
from bench.context import Context
from bench.results import Section, Table
from bench.stats import Spread

PIPELINE = 16
TESTS = ("set", "get", "lpush", "rpop")
# A one-write script: the smallest unit of work a Lua-based queue does per state transition.
SCRIPT = "return redis.call('INCR', KEYS[1])"
COLUMNS = ("Command", "No pipelining (ops/s)", f"-P {PIPELINE} (ops/s)")


def _bench(ctx: Context, requests: int, pipeline: int, command: Sequence[str]) -> dict[str, float]:
    argv = [
        "redis-benchmark",
        "-h",
        "127.0.0.1",
        "-p",
        str(ctx.queue.port),
        "-n",
        str(requests),
        "-P",
        str(pipeline),
        "-q",
        "--csv",
        *command,
    ]
    done = procs.run(argv, None, ctx.repo, 600.0)
    if done.returncode != 0:
        raise RuntimeError(f"redis-benchmark failed: {done.stderr.strip()[:200]}")
    rates: dict[str, float] = {}
    for row in csv.reader(io.StringIO(done.stdout)):
        if len(row) >= 2 and row[0] != "test":
            rates[row[0]] = float(row[1])
    return rates


def _one_round(ctx: Context, pipeline: int, requests: int) -> dict[str, float]:
    runner.wait_quiet(ctx)
    ctx.queue.flush()
    rates = _bench(ctx, requests, pipeline, ["-t", ",".join(TESTS)])
    sha = str(ctx.queue.client.script_load(SCRIPT))
    evalsha = _bench(ctx, requests, pipeline, ["evalsha", sha, "1", "bench:ceiling"])
    rates["EVALSHA"] = next(iter(evalsha.values()))
    return rates


class Ceiling:
    """SET/GET/LPUSH/RPOP and a one-INCR EVALSHA, without pipelining and with -P 16."""

    name = "ceiling"

    def run(self, ctx: Context, _contenders: Sequence[Contender]) -> Section:
        cfg = ctx.config
        plain: list[dict[str, float]] = []
        piped: list[dict[str, float]] = []
        table = Table("Redis ceiling (redis-benchmark, 50 clients)", COLUMNS)
        try:
            for i in range(cfg.repeats):
                ctx.say(f"[ceiling] round {i}")
                plain.append(_one_round(ctx, 1, cfg.ceiling_requests))
                piped.append(_one_round(ctx, PIPELINE, cfg.ceiling_pipelined_requests))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            table.rows.append(("failed", str(exc)[:200], ""))
            return Section("Workload 3: Redis ceiling", "", [table])
        for name in plain[0]:
            table.rows.append(
                (
                    name,
                    Spread.of([r[name] for r in plain]).render(0),
                    Spread.of([r[name] for r in piped]).render(0),
                )
            )
        table.notes.extend(
            [
                f"`redis-benchmark -n {cfg.ceiling_requests:,}` (and `-n "
                f"{cfg.ceiling_pipelined_requests:,} -P {PIPELINE}`) with its default 50 connections, "
                f"against the same private server the contenders use; {cfg.repeats} repeat(s), "
                "median [min-max].",
                f"EVALSHA runs the script `{SCRIPT}` (loaded with SCRIPT LOAD, then "
                "`redis-benchmark evalsha <sha> 1 bench:ceiling`).",
                "On this 2-core machine redis-benchmark and redis-server share the cores, as the "
                "contenders' workers and redis-server do.",
            ]
        )
        intro = (
            "What the Redis server alone can do here, so every queue figure can be read as "
            "a fraction of the physical limit."
        )
        return Section("Workload 3: Redis ceiling", intro, [table])
