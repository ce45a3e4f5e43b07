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
            "8",
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
        "`dramatiq --processes K --threads 8` (its default), `dramatiq_queue_prefetch=256`, "
        "`dramatiq_worker_timeout=50`, default middleware, `max_retries=0`"
    ),
    why=(
        "1, 2 and 8 threads drained within noise here, so the default stays; a 256-message "
        "prefetch makes each Lua fetch return a large batch instead of threads*2 messages; an "
        "idle consumer backs off polling up to `worker_timeout` (1 s by default), which sets "
        "pickup tail latency, so it is capped at 50 ms"
    ),
    env={"dramatiq_queue_prefetch": "256", "dramatiq_worker_timeout": "50"},
)
