"""dtq worker-side module for the scale family: the no-op task and ten that always fail.

The failing ones make dead letters cheaply: enqueued with ``max_retries=0`` they are dead after
one attempt, with no retry delay and no scheduler involved. Ten names, so that the dead-letter
workload can filter and redrive by one of them.
"""

from __future__ import annotations

from typing import Any

import dtq
from bench.probe import task_done

FAIL_NAMES = tuple(f"fail_{i}" for i in range(10))

app = dtq.App()


@app.task(name="noop")
async def noop(payload: dict[str, float]) -> None:
    task_done(payload["sent_at"])


async def fail(_payload: Any) -> None:
    task_done(0.0)
    raise RuntimeError("dead on purpose (bench)")


for _name in FAIL_NAMES:
    app.task(name=_name, max_retries=0)(fail)
