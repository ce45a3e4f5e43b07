"""Huey with RedisHuey: one ``huey_consumer`` with K worker processes."""

from __future__ import annotations

from pathlib import Path

from bench.contender import Contender


def _workers(bin_dir: Path, k: int) -> list[list[str]]:
    return [
        [
            str(bin_dir / "huey_consumer"),
            "bench.contenders.huey_tasks.huey",
            "--workers",
            str(k),
            "--worker-type",
            "process",
            "--no-periodic",
            "--disable-health-check",
            "--quiet",
        ]
    ]


CONTENDER = Contender(
    name="huey",
    venv="huey",
    tasks_module="bench.contenders.huey_tasks",
    packages=("huey", "redis", "hiredis"),
    worker_argv=_workers,
    producer_api="calling the task (`noop(t)`) in a loop: one LPUSH each (Huey has no bulk enqueue)",
    settings=(
        "`huey_consumer -k process -w K --no-periodic --disable-health-check --quiet`, "
        "`RedisHuey(results=False, blocking=True)`"
    ),
    why=(
        "process workers sidestep the GIL for CPU-bound bodies; blocking BRPOP instead of "
        "polling with back-off; no result store; no periodic-task or health-check wake-ups"
    ),
)
