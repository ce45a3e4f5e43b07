"""expire.lua: {finished deleted, dead deleted, keys forgotten, more}."""

from __future__ import annotations

from dtq.settings import RetentionSettings
from dtq.store import calls
from dtq.store.calls import Burial, Success
from tests.redis.scripts.conftest import Queue


async def test_deletes_only_what_is_past_retention(queue: Queue) -> None:
    done, kept = await queue.add(2)
    batch = await queue.claim(token="mine")
    await queue.scripts.run(calls.complete(queue.keys, [Success(i, "mine", "t", b"1") for i in (done, kept)]))
    await queue.client.store.redis.zadd(queue.keys.succeeded, {done: batch.now_ms - 10_000})  # finished 10 s ago
    assert (await queue.scripts.run(calls.expire(queue.keys, 100, queue.retention))).finished == 0
    result = await queue.scripts.run(calls.expire(queue.keys, 100, RetentionSettings(finished=5)))
    assert (result.finished, result.dead, result.more) == (1, 0, False)
    for key in queue.keys.columns:
        assert await queue.client.store.redis.hexists(key, done) is False
    assert await queue.state(kept) == "succeeded"


async def test_dead_tasks_past_their_ttl_or_over_the_cap_go_oldest_first(queue: Queue) -> None:
    ids = await queue.add(5)
    batch = await queue.claim(token="mine")
    await queue.scripts.run(calls.bury(queue.keys, "dead", [Burial(i, "mine", "t", b"{}") for i in ids]))
    # distinct times of death, oldest first, all in the past
    await queue.client.store.redis.zadd(
        queue.keys.dead, {task_id: batch.now_ms - 1000 + n for n, task_id in enumerate(ids)}
    )
    capped = RetentionSettings(dead_max=3)
    result = await queue.scripts.run(calls.expire(queue.keys, 100, capped))
    assert result.dead == 2
    assert await queue.members(queue.keys.dead) == ids[2:]
    everything = RetentionSettings(dead=0)
    assert (await queue.scripts.run(calls.expire(queue.keys, 100, everything))).dead == 3


async def test_more_is_reported_when_the_limit_cuts_a_sweep(queue: Queue) -> None:
    ids = await queue.add(3)
    await queue.claim(token="mine")
    await queue.scripts.run(calls.complete(queue.keys, [Success(i, "mine", "t", None) for i in ids]))
    now = RetentionSettings(finished=0)
    first = await queue.scripts.run(calls.expire(queue.keys, 2, now))
    assert (first.finished, first.more) == (2, True)
    second = await queue.scripts.run(calls.expire(queue.keys, 2, now))
    assert (second.finished, second.more) == (1, False)


async def test_expired_idempotency_keys_are_forgotten(queue: Queue) -> None:
    await queue.add(1, key="k")
    await queue.client.store.redis.zadd(queue.keys.idempotency_expiry, {"k": 0})
    result = await queue.scripts.run(calls.expire(queue.keys, 100, queue.retention))
    assert result.idempotency_keys == 1
    assert await queue.client.store.redis.hexists(queue.keys.idempotency, "k") is False
