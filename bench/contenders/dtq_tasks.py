"""dtq worker-side module: the app, the no-op task and the producer (runs in the main venv)."""

from __future__ import annotations

import dtq
from bench.probe import task_done

app = dtq.App()


@app.task(name="noop")
async def noop(payload: dict[str, float]) -> None:
    task_done(payload["sent_at"])


class _Producer:
    def __init__(self, client: dtq.Client) -> None:
        self._client = client

    async def bulk(self, n: int) -> None:
        # enqueue_many is dtq's bulk path; chunks bound the size of one request.
        chunk = 1000
        for start in range(0, n, chunk):
            requests = [dtq.TaskRequest(task="noop", payload={"sent_at": 0.0}) for _ in range(min(chunk, n - start))]
            await self._client.enqueue_many(requests)

    async def one(self, sent_at: float) -> None:
        await self._client.enqueue("noop", payload={"sent_at": sent_at})

    async def close(self) -> None:
        await self._client.__aexit__(None, None, None)


async def open_producer() -> _Producer:
    client = dtq.Client(dtq.Settings.from_env())  # the adapter sets DTQ_REDIS_URL
    await client.__aenter__()
    return _Producer(client)
