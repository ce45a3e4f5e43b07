"""dtq with the blocking producer: the same app and workers as dtq_tasks, `SyncClient` calls."""

from __future__ import annotations

import dtq
from bench.contenders.dtq_tasks import CHUNK, app

__all__ = ["app", "open_producer"]


class SyncDtqProducer:
    """The harness's producer calls, each a blocking `SyncClient` call (as in a Flask view)."""

    def __init__(self, client: dtq.SyncClient) -> None:
        self._client = client

    async def bulk(self, n: int) -> None:
        for start in range(0, n, CHUNK):
            requests = [dtq.TaskRequest(task="noop", payload={"sent_at": 0.0}) for _ in range(min(CHUNK, n - start))]
            self._client.enqueue_many(requests)

    async def one(self, sent_at: float) -> None:
        self._client.enqueue("noop", payload={"sent_at": sent_at})

    async def close(self) -> None:
        self._client.close()


async def open_producer() -> SyncDtqProducer:
    return SyncDtqProducer(dtq.SyncClient(dtq.Settings.from_env()))  # the adapter sets DTQ_REDIS_URL
