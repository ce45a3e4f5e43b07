"""What the dtq-only workloads share: finding dtq among the chosen contenders, and its processes."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import procs, runner
from bench.contender import Contender
from bench.context import Context
from bench.results import Table
from bench.venvs import Env

NAME = "dtq"


def find(ctx: Context, contenders: Sequence[Contender], table: Table) -> tuple[Contender, Env] | None:
    """dtq and its environment; None, with the reason noted under ``table``, when it cannot run."""
    dtq = next((c for c in contenders if c.name == NAME), None)
    if dtq is None:
        table.notes.append("Not run: dtq is not among the chosen contenders (`--only`).")
        return None
    env = ctx.env_of(dtq)
    if env is None:
        table.rows.append((NAME, f"failed: {ctx.failures.get(NAME, 'not installed')}"))
        return None
    return dtq, env


def start(ctx: Context, dtq: Contender, argvs: Sequence[Sequence[str]], tag: str) -> procs.Group:
    """dtq processes (``dtq api``, ``dtq worker``, ``dtq scheduler``) with the harness's environment.

    Their liveness files go under the work directory: the defaults in /tmp are shared with any
    other dtq on this machine, whose ``--check`` our processes would otherwise answer.
    """
    env = runner.process_env(ctx, dtq)
    env["DTQ_WORKER_HEALTH_FILE"] = str(health_file(ctx, "worker"))
    env["DTQ_SCHEDULER_HEALTH_FILE"] = str(health_file(ctx, "scheduler"))
    log = ctx.log_path(f"{NAME}-{tag}")
    log.write_text("".join(f"# {' '.join(argv)}\n" for argv in argvs))
    return procs.Group(argvs, env, ctx.repo, log)


def wait_until(ctx: Context, group: procs.Group, ready: Callable[[], bool], what: str) -> None:
    """Poll ``ready()`` until true; RunFailed if a process exits or the boot time limit passes."""
    deadline = time.monotonic() + ctx.config.boot_timeout_s
    while not ready():
        if group.exited():
            raise runner.RunFailed(f"{what}: a process exited: {group.tail(2)[:160]}")
        if time.monotonic() > deadline:
            raise runner.RunFailed(f"{what}: not ready after {ctx.config.boot_timeout_s:.0f} s")
        time.sleep(0.05)


def health_file(ctx: Context, process: str) -> Path:
    """Where the harness's dtq ``process`` (worker, scheduler) stamps its liveness."""
    return ctx.work_dir / f"dtq-{process}.health"
