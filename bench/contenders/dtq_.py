"""dtq, our own: K ``dtq worker`` processes from the repository's venv."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.contender import Contender, WorkerArgv

APP = "bench.contenders.dtq_tasks:app"
CONCURRENCY = 100


def workers(app: str = APP, concurrency: int = CONCURRENCY) -> WorkerArgv:
    """K ``dtq worker`` commands running ``app``'s handlers, ``concurrency`` tasks at once each."""

    def argvs(bin_dir: Path, k: int) -> list[list[str]]:
        argv = [str(bin_dir / "dtq"), "worker", "--app", app, "--queues", "default"]
        return [[*argv, "--concurrency", str(concurrency)] for _ in range(k)]

    return argvs


CONTENDER = Contender(
    name="dtq",
    venv=None,
    tasks_module="bench.contenders.dtq_tasks",
    packages=("dtq", "redis", "hiredis"),
    worker_argv=workers(),
    producer_api="`Client.enqueue_many()` in chunks of 1,000",
    settings=f"K x `dtq worker --concurrency {CONCURRENCY}`",
    why="async handlers with 100 in flight overlap claim/complete round trips",
    env={"DTQ_REDIS_URL": "{queue_url}"},
    import_check="import dtq, dtq.client",
)


# The same workers, fed by the blocking client, as every peer's producer is blocking: the
# pickup latency a producer in a synchronous program sees.
SYNC = replace(
    CONTENDER,
    name="dtq-sync",
    tasks_module="bench.contenders.dtq_sync_tasks",
    producer_api="`SyncClient.enqueue()`, one blocking call per task",
    why="as dtq; the producer is the blocking client",
    import_check="import dtq, dtq.sync",
    workloads=("latency",),
)
