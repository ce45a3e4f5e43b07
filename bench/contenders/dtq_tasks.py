"""dtq worker-side module: the app, the no-op task and the producer (runs in the main venv)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import dtq
from bench.probe import task_done

app = dtq.App(builtins=True)
CHUNK = 1000  # enqueue_many is dtq's bulk path; chunks bound the size of one request


@app.task(name="noop")
async def noop(payload: dict[str, float]) -> None:
    task_done(payload["sent_at"])


class DtqProducer:
    """The harness's producer calls, enqueueing one named task."""

    def __init__(self, client: dtq.Client, task: str) -> None:
        self._client = client
        self._task = task

    async def bulk(self, n: int) -> None:
        for start in range(0, n, CHUNK):
            requests = [
                dtq.TaskRequest(task=self._task, payload={"sent_at": 0.0}) for _ in range(min(CHUNK, n - start))
            ]
            await self._client.enqueue_many(requests)

    async def one(self, sent_at: float) -> None:
        await self._client.enqueue(self._task, payload={"sent_at": sent_at})

    async def schedule(self, due: Sequence[float]) -> None:
        """Enqueue one task per due time (epoch seconds), to run then; it carries its due time."""
        for start in range(0, len(due), CHUNK):
            requests = [
                dtq.TaskRequest(task=self._task, payload={"sent_at": t}, at=datetime.fromtimestamp(t, UTC))
                for t in due[start : start + CHUNK]
            ]
            await self._client.enqueue_many(requests)

    async def close(self) -> None:
        await self._client.__aexit__(None, None, None)


async def open_producer_for(task: str) -> DtqProducer:
    client = dtq.Client(dtq.Settings.from_env())  # the adapter sets DTQ_REDIS_URL
    await client.__aenter__()
    return DtqProducer(client, task)


async def open_producer() -> DtqProducer:
    return await open_producer_for("noop")
