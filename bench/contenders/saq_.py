"""SAQ: one ``saq`` command with ``--workers K`` (its own multi-process mode)."""

from __future__ import annotations

from pathlib import Path

from bench.contender import Contender


def _workers(bin_dir: Path, k: int) -> list[list[str]]:
    return [[str(bin_dir / "saq"), "bench.contenders.saq_tasks.settings", "--workers", str(k)]]


CONTENDER = Contender(
    name="saq",
    venv="saq",
    tasks_module="bench.contenders.saq_tasks",
    packages=("saq", "redis", "hiredis"),
    worker_argv=_workers,
    producer_api="`Queue.enqueue()` with 100 calls in flight (SAQ has no bulk enqueue)",
    settings=(
        "`saq settings --workers K`, `concurrency=50` (pool of 100 connections), jobs with `ttl=-1` and `timeout=0`"
    ),
    why=(
        "50 concurrent BLMOVE consumers per process overlap round trips (20/50/100 were within "
        "noise; redis-py's default 100-connection pool is too small for 100); `ttl=-1` deletes the "
        "job on completion instead of re-writing it for 600 s; no timeout means no timer per job"
    ),
)
