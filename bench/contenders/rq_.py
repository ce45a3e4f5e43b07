"""RQ 2: the in-process SimpleWorker and the classic forking Worker as two rows."""

from __future__ import annotations

from pathlib import Path

from bench.contender import Contender

_COMMON = ["--quiet", "--logging_level", "WARNING", "--disable-job-desc-logging"]


def _simple(bin_dir: Path, k: int) -> list[list[str]]:
    return [
        [str(bin_dir / "rq"), "worker", "--worker-class", "rq.worker.SimpleWorker", *_COMMON, "bench"] for _ in range(k)
    ]


def _forking(bin_dir: Path, k: int) -> list[list[str]]:
    return [[str(bin_dir / "rq"), "worker", *_COMMON, "bench"] for _ in range(k)]


_PRODUCER = "`Queue.enqueue_many()` of `Queue.prepare_data()` in chunks of 1,000 (one pipeline each)"

SIMPLE = Contender(
    name="rq",
    venv="rq",
    tasks_module="bench.contenders.rq_tasks",
    packages=("rq", "redis", "hiredis"),
    worker_argv=_simple,
    producer_api=_PRODUCER,
    settings="K x `rq worker --worker-class rq.worker.SimpleWorker --quiet`",
    env={"RQ_REDIS_URL": "{queue_url}"},
    drain_n=5_000,
    why=(
        "SimpleWorker runs jobs in the worker process instead of forking a work horse per job; "
        "quiet logging removes the per-job log lines. The default `result_ttl` is kept: "
        "`result_ttl=0` deletes each job after it runs, which measured slower here"
    ),
)

FORKING = Contender(
    name="rq-fork",
    venv="rq",
    tasks_module="bench.contenders.rq_tasks",
    packages=("rq", "redis", "hiredis"),
    worker_argv=_forking,
    producer_api=_PRODUCER,
    settings="K x `rq worker --quiet` (default forking Worker)",
    why=(
        "RQ's default: one fork per job, which is its isolation model; shown so the cost of "
        "that model is visible next to SimpleWorker. The probe writes through to Redis per "
        "task here, because the forked child exits before a background flush"
    ),
    env={"RQ_REDIS_URL": "{queue_url}", "BENCH_PROBE_DIRECT": "1"},
    drain_n=1_000,
)
