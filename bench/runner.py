"""Running one contender's processes: the environment, the producer, workers and the wait."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass

from bench import machine, probe, procs
from bench.contender import Contender
from bench.context import Context
from bench.venvs import Env

POLL_INTERVAL_S = 0.002
# Between runs none of our processes run, so CPU use above this is someone else's.
QUIET_BUSY_FRACTION = 0.25


class RunFailed(Exception):
    """One run of one contender failed; the message is the reason shown in the table."""


@dataclass(frozen=True)
class Progress:
    """When the completion counter first moved and when it reached its target."""

    started: float
    first_at: float
    first_count: int
    done_at: float

    @property
    def boot_s(self) -> float:
        return self.first_at - self.started

    def rate_from_first(self, target: int) -> float:
        span = self.done_at - self.first_at
        return (target - self.first_count) / span if span > 0 else float("inf")


def process_env(ctx: Context, contender: Contender) -> dict[str, str]:
    """Environment for every contender process: import path, server URLs, adapter extras."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DTQ_", "VIRTUAL_ENV"))}
    env.update(
        {
            "PYTHONPATH": str(ctx.repo),
            "PYTHONUNBUFFERED": "1",
            probe.QUEUE_URL_ENV: ctx.queue.url,
            probe.PROBE_URL_ENV: ctx.probe.url,
        }
    )
    env.update({k: v.format(queue_url=ctx.queue.url) for k, v in contender.env.items()})
    return env


def reset(ctx: Context) -> None:
    """Empty both servers: each run starts from nothing (they are ours to flush)."""
    ctx.queue.flush()
    ctx.probe.flush()


def wait_quiet(ctx: Context) -> float:
    """Wait (bounded per run and per whole run) until the machine is quiet; returns busy share."""
    busy = machine.busy_fraction()
    budget = min(ctx.config.quiet_wait_s, ctx.config.quiet_budget_s - ctx.quiet_waited_s)
    if busy <= QUIET_BUSY_FRACTION or budget <= 0:
        return busy
    ctx.say(f"  machine {busy:.0%} busy with other work; waiting up to {budget:.0f} s")
    started = time.monotonic()
    while busy > QUIET_BUSY_FRACTION and time.monotonic() - started < budget:
        time.sleep(1.5)
        busy = machine.busy_fraction()
    ctx.quiet_waited_s += time.monotonic() - started
    return busy


def produce(
    ctx: Context, contender: Contender, env: Env, *args: str, timeout_s: float | None = None
) -> dict[str, float]:
    """Run ``bench.producer`` in the contender's venv; returns its JSON timings.

    ``timeout_s`` (default: the config's ``produce_timeout_s``) is for producers of millions.
    """
    argv = [str(env.python), "-m", "bench.producer", contender.tasks_module, *args]
    limit = ctx.config.produce_timeout_s if timeout_s is None else timeout_s
    try:
        done = procs.run(argv, process_env(ctx, contender), ctx.repo, limit)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"producer timed out after {limit:.0f} s") from None
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RunFailed(f"producer exited {done.returncode}: {last[0][:160]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def start_workers(ctx: Context, contender: Contender, env: Env, k: int, tag: str) -> procs.Group:
    argvs = contender.worker_argv(env.bin_dir, k)
    log = ctx.log_path(f"{contender.name}-{tag}")
    log.write_text(f"# {' '.join(argvs[0])} (x{len(argvs)})\n")
    return procs.Group(argvs, process_env(ctx, contender), ctx.repo, log)


def completed(ctx: Context) -> int:
    raw = ctx.probe.client.get(probe.DONE_KEY)
    return int(raw) if raw is not None else 0


def recorded_ms(ctx: Context, expected: int, what: str) -> list[float]:
    """The per-task milliseconds the probe recorded; RunFailed if fewer than ``expected``."""
    samples = [float(x) for x in ctx.probe.client.lrange(probe.LATENCY_KEY, 0, -1)]
    if len(samples) < expected:
        raise RunFailed(f"only {len(samples)} of {expected} {what} samples recorded")
    return samples


def wait_for(ctx: Context, group: procs.Group, target: int, started: float, timeout_s: float) -> Progress:
    """Poll the probe counter until ``target``; RunFailed on timeout or a dead worker."""
    first_at, first_count = 0.0, 0
    deadline = started + timeout_s
    while True:
        count = completed(ctx)
        now = time.perf_counter()
        if count and not first_at:
            first_at, first_count = now, count
        if count >= target:
            return Progress(started, first_at, first_count, now)
        if now > deadline:
            raise RunFailed(f"timeout after {timeout_s:.0f} s at {count:,}/{target:,} done ({group.tail(2)[:160]})")
        if len(group.exited()) > 0:
            raise RunFailed(f"worker exited early at {count:,}/{target:,}: {group.tail(2)[:160]}")
        time.sleep(POLL_INTERVAL_S)
