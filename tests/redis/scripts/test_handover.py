"""The one-hop hand-over (include/lease.lua): a claim that finds nothing parks its worker, and
the next enqueue leases its tasks to that worker and sends them, by the claim's own rules."""

from __future__ import annotations

import asyncio
from typing import Any

from dtq.store import calls, handover
from dtq.task import TaskRequest, decode_spec
from tests.redis.scripts.conftest import Queue

PARK_MS = 3_000


async def park(queue: Queue, slots: int = 10, *, park_token: str = "w1#2", ttl: int = PARK_MS) -> calls.ClaimBatch:
    call = calls.claim(queue.keys, count=slots, lease_ms=30_000, token="w1#1", order="", park_token=park_token,
                       park_ms=ttl)  # fmt: skip
    return await queue.scripts.run(call)


async def inbox(queue: Queue, worker: str = "w1") -> Any:
    pubsub = queue.client.store.redis.pubsub()
    await pubsub.subscribe(queue.client.store.global_keys.inbox(worker))
    assert (await pubsub.get_message(timeout=1))["type"] == "subscribe"
    return pubsub


async def next_message(pubsub: Any) -> bytes:
    async with asyncio.timeout(2):
        while True:
            message = await pubsub.get_message(timeout=1)
            if message and message["type"] == "message":
                return bytes(message["data"])


async def test_an_enqueue_leases_its_task_to_the_parked_worker_and_sends_it(queue: Queue) -> None:
    assert (await park(queue)).parked
    pubsub = await inbox(queue)
    (outcome,) = await queue.enqueue(TaskRequest(task="t", queue="q", payload={"n": 1}))
    assert outcome.state == "queued"  # what it was stored as; it was leased in the same step
    token, batch = handover.parse(await next_message(pubsub))
    assert token == "w1#2" and [t.id for t in batch.tasks] == [outcome.id]
    assert decode_spec(batch.tasks[0].spec or b"").payload == {"n": 1} and batch.tasks[0].attempt == 1
    assert await queue.state(outcome.id) == "active"
    assert await queue.run_record(outcome.id) == f"1|{batch.now_ms}|w1#2"
    assert await queue.client.store.redis.hlen(queue.keys.parked) == 0  # one hand-over per park
    await pubsub.aclose()


async def test_a_lost_hand_over_comes_back_to_the_claim_with_that_token(queue: Queue) -> None:
    await park(queue)
    (outcome,) = await queue.enqueue(TaskRequest(task="t", queue="q"))
    again = await queue.claim(10, token="w1#2")  # the worker never heard: it claims with its park token
    assert [t.id for t in again.tasks] == [outcome.id] and again.tasks[0].attempt == 1


async def test_nothing_is_handed_over_while_the_queue_is_paused_or_other_tasks_wait(queue: Queue) -> None:
    await park(queue)
    await queue.client.store.set_paused("q", True)
    waiting = await queue.add(1)  # paused: queued, not handed over
    await queue.client.store.set_paused("q", False)
    later = await queue.add(1)  # the worker is still parked, but `waiting` is ahead of this one
    assert await queue.queued() == waiting + later
    assert await queue.client.store.redis.hlen(queue.keys.parked) == 1


async def test_the_highest_priorities_go_first_up_to_the_free_slots(queue: Queue) -> None:
    await park(queue, slots=2)
    pubsub = await inbox(queue)
    low, high, mid, high2 = await queue.enqueue(*(TaskRequest(task="t", queue="q", priority=p) for p in (1, 9, 5, 9)))
    _, batch = handover.parse(await next_message(pubsub))
    assert [t.id for t in batch.tasks] == [high.id, high2.id]
    assert await queue.queued() == [mid.id, low.id]
    await pubsub.aclose()


async def test_an_expired_park_is_dropped_and_a_claim_unparks_its_token(queue: Queue) -> None:
    await park(queue, ttl=1)
    await asyncio.sleep(0.01)  # past the 1 ms park, on Redis's clock
    (stale,) = await queue.add(1)
    assert await queue.queued() == [stale] and await queue.client.store.redis.hlen(queue.keys.parked) == 0
    await queue.claim(10)
    await park(queue)
    await queue.claim(0, token="w1#2")  # the worker claims with its park token: parked no longer
    (later,) = await queue.add(1)
    assert await queue.queued() == [later]
