"""The producer: enqueues tasks through the REST API and writes down what the API answered.

Each task has a ref, made here. Half of the refs are also the task's idempotency key, and the
producer retries those (with the same key) after a 503, a timeout or a reset, as a careful user
would; the other half are sent once, so that any duplicate must come from inside dtq (redis-py
resending a script), not from our retries.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.chaos.oracle import Ledger

RETRY_FOR = 60.0  # seconds a keyed task is retried before it is left indeterminate


class Producer:
    """Sends tasks from `concurrency` loops, at most `rate` per second in total (None = flat out)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        ledger: Ledger,
        *,
        concurrency: int = 8,
        rate: float | None = None,
        body: Callable[[str], dict[str, Any]] | None = None,
        path: str = "/tasks",
        name: str = "t",
        latencies: list[tuple[float, float]] | None = None,
    ) -> None:
        self.http = http
        self.ledger = ledger
        self.concurrency = concurrency
        self.rate = rate
        self.body = body or (lambda ref: {"task": "chaos", "payload": {"ref": ref, "sleep": 0.001}})
        self.path = path
        self._numbers = itertools.count()
        self._name = name
        self._stop = asyncio.Event()
        self.latencies = latencies  # (seconds since start, seconds the request took) per 200
        self._began = time.monotonic()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, total: int) -> None:
        """Send `total` tasks (fewer if stopped), then return."""
        refs = iter(range(total))
        await asyncio.gather(*(self._loop(refs) for _ in range(self.concurrency)))

    async def _loop(self, refs: Any) -> None:
        interval = self.concurrency / self.rate if self.rate else 0.0
        for _ in refs:
            if self._stop.is_set():
                return
            began = time.monotonic()
            number = next(self._numbers)
            await self.submit(f"{self._name}{number}", keyed=number % 2 == 0)
            if interval:
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))

    async def submit(self, ref: str, *, keyed: bool) -> None:
        """Enqueue one task; a keyed one is retried (same key) until acknowledged or refused."""
        self.ledger.invoke(ref)
        body = self.body(ref)
        if keyed:
            body["key"] = ref
        deadline = time.monotonic() + RETRY_FOR
        while True:
            status = await self._post(ref, body)
            done = status == "200" or status.startswith("4") or status == "500"  # a 500 is a bug: fail, don't insist
            if done or not keyed or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.2)

    async def _post(self, ref: str, body: dict[str, Any]) -> str:
        began = time.monotonic()
        try:
            response = await self.http.post(self.path, json=body)
        except httpx.TimeoutException:
            self.ledger.record(ref, "timeout")
            return "timeout"
        except httpx.TransportError as exc:
            self.ledger.record(ref, type(exc).__name__)
            return type(exc).__name__
        status = str(response.status_code)
        if self.latencies is not None and response.status_code == 200:
            self.latencies.append((began - self._began, time.monotonic() - began))
        task_id = response.json().get("id") if response.status_code == 200 else None
        self.ledger.record(ref, status, task_id)
        return status
