"""arq: K independent ``arq`` worker processes."""

from __future__ import annotations

from pathlib import Path

from bench.contender import Contender


def _workers(bin_dir: Path, k: int) -> list[list[str]]:
    return [[str(bin_dir / "arq"), "bench.contenders.arq_tasks.WorkerSettings"] for _ in range(k)]


CONTENDER = Contender(
    name="arq",
    venv="arq",
    tasks_module="bench.contenders.arq_tasks",
    packages=("arq", "redis", "hiredis"),
    worker_argv=_workers,
    producer_api="`ArqRedis.enqueue_job()` with 100 calls in flight (arq has no bulk enqueue)",
    settings="K x `arq WorkerSettings`: `max_jobs=100`, `queue_read_limit=500`, `poll_delay=0.01`, `keep_result=0`",
    why=(
        "arq polls a sorted set rather than blocking, so the 0.5 s default `poll_delay` caps a "
        "drain at one batch per half second and sets pickup latency; 10 ms keeps both low "
        "without spinning. 100 concurrent jobs overlap each job's Redis round trips; "
        "`keep_result=0` drops the result write"
    ),
)
