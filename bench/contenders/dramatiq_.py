"""Dramatiq with the Redis broker: one ``dramatiq`` command with ``--processes K``."""

from __future__ import annotations

from pathlib import Path

from bench.contender import Contender


def _workers(bin_dir: Path, k: int) -> list[list[str]]:
    return [
        [
            str(bin_dir / "dramatiq"),
            "bench.contenders.dramatiq_tasks",
            "--processes",
            str(k),
            "--threads",
            "2",
            "--queues",
            "bench",
        ]
    ]


CONTENDER = Contender(
    name="dramatiq",
    venv="dramatiq",
    tasks_module="bench.contenders.dramatiq_tasks",
    packages=("dramatiq", "redis", "hiredis"),
    worker_argv=_workers,
    producer_api="`actor.send()` in a loop (Dramatiq has no multi-message enqueue)",
    settings=(
        "`dramatiq --processes K --threads 2`, `dramatiq_queue_prefetch=256`, default middleware, `max_retries=0`"
    ),
    why=(
        "for I/O-free work extra threads only contend for the GIL, so 2 (one running, one "
        "acking) is enough; a 256-message prefetch makes each Lua fetch return a large batch "
        "instead of threads*2 messages"
    ),
    env={"dramatiq_queue_prefetch": "256"},
)
