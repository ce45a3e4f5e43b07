"""dtq worker-side module for the I/O-bound drain: a handler that awaits 1 ms of "I/O"."""

from __future__ import annotations

import asyncio

import dtq
from bench.contenders.dtq_tasks import DtqProducer, open_producer_for
from bench.probe import task_done

IO_SECONDS = 0.001

app = dtq.App(builtins=True)


@app.task(name="io_1ms")
async def io_1ms(payload: dict[str, float]) -> None:
    # Stands in for a network call: the worker is idle for 1 ms and free to run other tasks.
    await asyncio.sleep(IO_SECONDS)
    task_done(payload["sent_at"])


async def open_producer() -> DtqProducer:
    return await open_producer_for("io_1ms")
