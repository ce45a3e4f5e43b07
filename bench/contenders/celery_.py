"""Celery 5 with the Redis broker: K independent solo-pool workers."""

from __future__ import annotations

from pathlib import Path

from bench.contender import Contender


def _workers(bin_dir: Path, k: int) -> list[list[str]]:
    return [
        [
            str(bin_dir / "celery"),
            "-A",
            "bench.contenders.celery_tasks",
            "worker",
            "--pool",
            "solo",
            "--queues",
            "bench",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"bench{i}@%h",
        ]
        for i in range(k)
    ]


CONTENDER = Contender(
    name="celery",
    venv="celery",
    tasks_module="bench.contenders.celery_tasks",
    packages=("celery", "kombu", "redis", "hiredis"),
    worker_argv=_workers,
    producer_api="`task.apply_async()` in a loop on one shared `app.producer_or_acquire()`",
    settings=(
        "K x `celery worker --pool solo`, `worker_prefetch_multiplier=128`, early ack, "
        "`task_ignore_result`, no gossip/mingle/heartbeat, log level WARNING"
    ),
    why=(
        "the solo pool runs the task in the consumer process, so nothing is piped to a child; "
        "prefork would make one parent process the bottleneck for sub-ms tasks. A deep "
        "prefetch keeps the solo loop fed (multipliers 4, 32 and 128 tried; 128 was fastest); "
        "no result backend and no gossip cut Redis writes"
    ),
)
