"""dtq, our own: K ``dtq worker`` processes from the repository's venv."""

from __future__ import annotations

from pathlib import Path

from bench.contender import Contender


def _workers(bin_dir: Path, k: int) -> list[list[str]]:
    return [
        [
            str(bin_dir / "dtq"),
            "worker",
            "--app",
            "bench.contenders.dtq_tasks:app",
            "--queues",
            "default",
            "--concurrency",
            "100",
        ]
        for _ in range(k)
    ]


CONTENDER = Contender(
    name="dtq",
    venv=None,
    tasks_module="bench.contenders.dtq_tasks",
    packages=("dtq", "redis", "hiredis"),
    worker_argv=_workers,
    producer_api="`Client.enqueue_many()` in chunks of 1,000",
    settings="K x `dtq worker --concurrency 100`",
    why="async handlers with 100 in flight overlap claim/complete round trips",
    env={"DTQ_REDIS_URL": "{queue_url}"},
    import_check="import dtq, dtq.client",
)
