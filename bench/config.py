"""Counts, repeats and time limits for a full run and for ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    """Everything a workload may size itself by; one instance per run."""

    quick: bool
    repeats: int
    drain_n: int
    worker_counts: tuple[int, ...]
    latency_rates: tuple[float, ...]
    """Producer rates of the pickup-latency workload, one table each."""
    latency_seconds: float
    ceiling_requests: int
    ceiling_pipelined_requests: int
    http_seconds: float
    """Length of each timed HTTP load run (closed-loop and paced alike)."""
    schedule_seconds: float
    """Span over which the scheduler-lateness tasks fall due."""
    io_drain_n: int
    memory_sizes: tuple[int, ...]
    """Waiting tasks per memory measurement (every contender, no worker running)."""
    backlog_sizes: tuple[int, ...]
    """Backlogs the dtq scale family enqueues and drains (and the introspection reads at)."""
    scheduled_sizes: tuple[int, ...]
    """Tasks held in the schedule, over the next hour, while 1,000/s fall due."""
    dead_sizes: tuple[int, ...]
    """Dead letters (over 10 queues) the dead-letter reads, redrive and purge face."""
    idle_queue_counts: tuple[int, ...]
    """Idle queues one idle worker consumes while its CPU is measured."""
    idle_seconds: float
    """How long an idle worker's CPU is measured."""
    reads: int
    """Timed reads per endpoint in the introspection and dead-letter workloads (p50 of them)."""
    scale_timeout_s: float
    """Time limit of one fill, drain or HTTP bulk at the scale family's largest size."""
    produce_timeout_s: float
    drain_timeout_s: float
    boot_timeout_s: float
    quiet_wait_s: float
    """Longest wait before a run for the machine to go quiet (it may be shared)."""
    quiet_budget_s: float
    """Most time the whole run spends waiting for quiet; past it, runs start at once."""


FULL = Config(
    quick=False,
    repeats=3,
    drain_n=20_000,
    worker_counts=(1, 2),
    latency_rates=(200.0, 2000.0),
    latency_seconds=10.0,
    ceiling_requests=200_000,
    ceiling_pipelined_requests=2_000_000,
    http_seconds=10.0,
    schedule_seconds=10.0,
    io_drain_n=20_000,
    memory_sizes=(100_000, 1_000_000),
    backlog_sizes=(10_000, 100_000, 1_000_000),
    scheduled_sizes=(10_000, 1_000_000),
    dead_sizes=(10_000, 100_000),
    idle_queue_counts=(1, 100, 1000),
    idle_seconds=20.0,
    reads=20,
    scale_timeout_s=900.0,
    produce_timeout_s=300.0,
    drain_timeout_s=300.0,
    boot_timeout_s=60.0,
    quiet_wait_s=60.0,
    quiet_budget_s=900.0,
)

QUICK = Config(
    quick=True,
    repeats=1,
    drain_n=2_000,
    worker_counts=(1, 2),
    latency_rates=(200.0, 2000.0),
    latency_seconds=2.0,
    ceiling_requests=20_000,
    ceiling_pipelined_requests=200_000,
    http_seconds=2.0,
    schedule_seconds=2.0,
    io_drain_n=2_000,
    memory_sizes=(2_000, 10_000),
    backlog_sizes=(2_000, 10_000, 40_000),
    scheduled_sizes=(1_000, 40_000),
    dead_sizes=(1_000, 5_000),
    idle_queue_counts=(1, 100, 1000),
    idle_seconds=4.0,
    reads=5,
    scale_timeout_s=120.0,
    produce_timeout_s=120.0,
    drain_timeout_s=60.0,
    boot_timeout_s=45.0,
    quiet_wait_s=10.0,
    quiet_budget_s=60.0,
)


def scaled_drain_n(config: Config, override: int | None) -> int:
    """A slow contender's smaller N, shrunk by the same factor as the run's own N."""
    if override is None:
        return config.drain_n
    return max(100, override * config.drain_n // FULL.drain_n)
