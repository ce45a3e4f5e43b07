"""taskiq with taskiq-redis's RedisStreamBroker: one ``taskiq worker --workers K``."""

from __future__ import annotations

from pathlib import Path

from bench.contender import Contender


def _workers(bin_dir: Path, k: int) -> list[list[str]]:
    return [
        [
            str(bin_dir / "taskiq"),
            "worker",
            "bench.contenders.taskiq_tasks:broker",
            "--workers",
            str(k),
            "--max-async-tasks",
            "100",
            "--log-level",
            "WARNING",
            "--no-configure-logging",
        ]
    ]


CONTENDER = Contender(
    name="taskiq",
    venv="taskiq",
    tasks_module="bench.contenders.taskiq_tasks",
    packages=("taskiq", "taskiq-redis", "redis", "hiredis"),
    worker_argv=_workers,
    producer_api="`task.kiq()` with 100 calls in flight (taskiq has no bulk kick)",
    settings=(
        "`taskiq worker --workers K --max-async-tasks 100`, `RedisStreamBroker` "
        "(`xread_count=100`), no result backend, default ack (after the result is saved)"
    ),
    why=(
        "RedisStreamBroker is taskiq-redis's fastest *reliable* broker (consumer group + XACK; "
        "ListQueueBroker is faster but loses popped messages when a worker dies); reading 100 "
        "entries per XREADGROUP and running 100 tasks concurrently amortise round trips"
    ),
)
