"""Every way a task ends cancelled counts one `cancelled` event, in the totals and the minute.

Before the counting moved into settle_cancelled, a task cancelled while it ran and then handed
back, failed or found with its lease expired ended `cancelled` uncounted, and a waiting task
cancelled at once reached the per-minute activity but never the totals /metrics reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from dtq.store import calls
from dtq.store.calls import Burial, Failure, HandBack
from tests.redis.scripts.conftest import Queue


async def _waiting(queue: Queue, task_id: str) -> None:
    await queue.scripts.run(calls.cancel(queue.keys, task_id))


async def _handed_back(queue: Queue, task_id: str) -> None:
    (held,) = (await queue.claim(token="mine")).tasks
    await queue.scripts.run(calls.cancel(queue.keys, task_id))
    await queue.scripts.run(calls.release(queue.keys, [HandBack(task_id, "mine", "t", held.ready_ms)]))


async def _failed(queue: Queue, task_id: str) -> None:
    await queue.claim(token="mine")
    await queue.scripts.run(calls.cancel(queue.keys, task_id))
    await queue.scripts.run(calls.retry(queue.keys, [Failure(task_id, "mine", "t", b"{}", 1_000)]))


async def _lease_expired(queue: Queue, task_id: str) -> None:
    await queue.claim(token="mine")
    await queue.scripts.run(calls.cancel(queue.keys, task_id))
    await queue.lapse(task_id)


async def _buried(queue: Queue, task_id: str) -> None:
    await queue.claim(token="mine")
    await queue.scripts.run(calls.cancel(queue.keys, task_id))
    await queue.scripts.run(calls.bury(queue.keys, "cancelled", [Burial(task_id, "mine", "t", b"{}")]))


PATHS: dict[str, Callable[[Queue, str], Awaitable[None]]] = {
    "cancelled while waiting": _waiting,
    "cancelled while running, then handed back": _handed_back,
    "cancelled while running, then failed": _failed,
    "cancelled while running, then its lease expired": _lease_expired,
    "cancelled while running, handler stopped": _buried,
}


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
async def test_each_cancel_counts_once(queue: Queue, path: Callable[[Queue, str], Awaitable[None]]) -> None:
    (task_id,) = await queue.add()
    await path(queue, task_id)
    assert await queue.state(task_id) == "cancelled"
    totals = await queue.client.store.redis.hgetall(queue.keys.totals)
    assert totals.get(b"cancelled|t") == b"1"
    minutes = await queue.client.store.redis.hgetall(queue.keys.activity)
    assert sum(int(n) for field, n in minutes.items() if field.endswith(b":cancelled")) == 1
