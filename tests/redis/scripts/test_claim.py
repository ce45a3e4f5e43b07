"""claim.lua: returns claimed tasks; ready_left -1 when paused; 0 tasks when empty."""

from __future__ import annotations

from dtq.priority import DEFAULT_PRIORITY
from dtq.store import calls, queued
from dtq.task import TaskRequest, decode_spec
from tests.redis.scripts.conftest import Queue


async def test_nothing_ready_claims_nothing(queue: Queue) -> None:
    batch = await queue.claim()
    assert batch.tasks == []
    assert batch.ready_left == 0
    assert not batch.paused


async def test_claims_move_tasks_to_active_with_lease_token_and_attempt(queue: Queue) -> None:
    ids = await queue.add(3, task="job", payload={"n": 1})
    batch = await queue.claim(2, token="t-1", lease_ms=5000)
    assert [t.id for t in batch.tasks] == ids[:2]
    assert batch.ready_left == 1
    assert all(t.attempt == 1 for t in batch.tasks)
    assert decode_spec(batch.tasks[0].spec or b"").payload == {"n": 1}
    assert sorted(await queue.members(queue.keys.active)) == sorted(ids[:2])
    assert [await queue.run_record(i) for i in ids] == [f"1|{batch.now_ms}|t-1"] * 2 + [None]
    assert [await queue.state(i) for i in ids] == ["active", "active", "queued"]
    lease = await queue.client.store.redis.zscore(queue.keys.active, ids[0])
    assert lease is not None and lease - batch.now_ms == 5000


async def test_paused_queue_claims_nothing(queue: Queue) -> None:
    await queue.add(2)
    await queue.client.store.redis.set(queue.keys.paused, 1)
    batch = await queue.claim()
    assert batch.paused and batch.tasks == []
    await queue.client.store.redis.delete(queue.keys.paused)
    assert len((await queue.claim()).tasks) == 2


async def test_strict_order_is_priority_then_fifo(queue: Queue) -> None:
    low = await queue.add(2, priority=1)
    high = await queue.add(2, priority=9)
    mid = await queue.add(2, priority=5)
    batch = await queue.claim(6)
    assert [t.id for t in batch.tasks] == high + mid + low


async def test_weighted_order_visits_levels_in_the_given_order(queue: Queue) -> None:
    low = await queue.add(2, priority=1)
    high = await queue.add(2, priority=9)
    batch = await queue.claim(3, order="1,9,0,2,3,4,5,6,7,8")
    assert [t.id for t in batch.tasks] == [*low, high[0]]


async def test_a_task_whose_record_is_unreadable_is_still_claimed_for_dead_lettering(queue: Queue) -> None:
    (task_id,) = await queue.add(1)
    await queue.client.store.redis.hset(queue.keys.column("spec"), task_id, b"\xff not ours")
    (claimed,) = (await queue.claim()).tasks
    assert claimed.id == task_id and claimed.spec == b"\xff not ours"


async def test_an_entry_whose_task_is_gone_is_passed_over_and_the_count_heals(queue: Queue) -> None:
    gone, kept = await queue.add(2)
    await queue.client.store.redis.hdel(queue.keys.column("spec"), gone)  # deleted behind dtq's back
    assert [t.id for t in (await queue.claim()).tasks] == [kept]
    empty = await queue.claim()
    assert (empty.tasks, empty.ready_left) == ([], 0)
    assert await queue.client.store.redis.exists(queue.keys.queued) == 0


async def test_each_claim_counts_an_attempt(queue: Queue) -> None:
    await queue.enqueue(TaskRequest(task="a", queue="q"))
    (first,) = (await queue.claim(token="a")).tasks
    await queue.client.store.redis.hset(queue.keys.column("run"), first.id, "4|0|old")
    await requeue_by_hand(queue, first.id)
    (again,) = (await queue.claim(token="b")).tasks
    assert again.attempt == 5


async def test_a_repeated_claim_returns_the_same_batch_instead_of_claiming_more(queue: Queue) -> None:
    ids = await queue.add(5)
    first = await queue.claim(2, token="w#7")
    again = await queue.claim(2, token="w#7")  # a resend after a lost reply
    assert [t.id for t in again.tasks] == [t.id for t in first.tasks] == ids[:2]
    assert [t.attempt for t in again.tasks] == [1, 1]
    assert [t.ready_ms for t in again.tasks] == [t.ready_ms for t in first.tasks]
    assert len(await queue.queued()) == 3
    assert len((await queue.claim(2, token="w#8")).tasks) == 2  # a new token claims new tasks


async def test_a_repeated_claim_leaves_out_tasks_it_no_longer_holds(queue: Queue) -> None:
    await queue.add(2)
    first = await queue.claim(2, token="w#1")
    done = calls.Success(first.tasks[0].id, "w#1", "t", None)
    await queue.scripts.run(calls.complete(queue.keys, [done]))
    again = await queue.claim(2, token="w#1")
    assert [t.id for t in again.tasks] == [first.tasks[1].id]


async def test_a_resent_claim_takes_back_what_lapsed_while_its_reply_was_lost(queue: Queue) -> None:
    ids = await queue.add(2, max_retries=0)
    first = await queue.claim(2, token="w#3", lease_ms=30_000)
    await queue.lapse(*ids)  # the worker never heard the reply; recovery counted the attempt
    assert [await queue.state(i) for i in ids] == ["dead", "dead"]
    again = await queue.claim(2, token="w#3", lease_ms=30_000)
    assert [t.id for t in again.tasks] == ids
    assert [t.attempt for t in again.tasks] == [1, 1]  # the same attempt, not another
    assert [await queue.state(i) for i in ids] == ["active", "active"]
    assert await queue.members(queue.keys.dead) == []
    assert await queue.client.store.redis.hmget(queue.keys.column("error"), ids) == [None, None]
    lease = await queue.client.store.redis.zscore(queue.keys.active, ids[0])
    assert lease is not None and lease - again.now_ms == 30_000  # a fresh lease
    assert [await queue.run_record(i) for i in ids] == [f"1|{again.now_ms}|w#3"] * 2
    assert first.now_ms <= again.now_ms


async def test_a_resent_claim_takes_back_a_requeued_task_nobody_claimed(queue: Queue) -> None:
    (task_id,) = await queue.add(max_retries=2)
    await queue.claim(token="w#1")
    await queue.lapse(task_id)
    assert await queue.state(task_id) == "queued"
    again = await queue.claim(token="w#1")
    assert [t.id for t in again.tasks] == [task_id]
    assert await queue.queued() == []
    assert again.ready_left == 0


async def test_a_resent_claim_leaves_a_lapsed_task_another_worker_claimed(queue: Queue) -> None:
    (task_id,) = await queue.add(max_retries=2)
    await queue.claim(token="a#1")
    await queue.lapse(task_id)
    await queue.claim(token="b#1")
    assert (await queue.claim(token="a#1")).tasks == []
    assert (await queue.run_record(task_id) or "").endswith("|b#1")


async def test_the_next_claim_forgets_the_answered_one(queue: Queue) -> None:
    await queue.add(2)
    await queue.claim(1, token="w#1", lease_ms=1000)
    memory = await queue.client.store.redis.pttl(queue.keys.claim_prefix + "w#1")
    assert 1000 * calls.CLAIM_MEMORY_LEASES - 5000 < memory <= 1000 * calls.CLAIM_MEMORY_LEASES
    await queue.claim(1, token="w#2", forget="w#1")
    assert not await queue.client.store.redis.exists(queue.keys.claim_prefix + "w#1")
    assert await queue.client.store.redis.exists(queue.keys.claim_prefix + "w#2")


async def requeue_by_hand(queue: Queue, task_id: str) -> None:
    """Make `task_id` queued again (default priority) the way the scripts do."""
    redis = queue.client.store.redis
    await redis.hdel(queue.keys.column("state"), task_id)
    await redis.zrem(queue.keys.active, task_id)
    await redis.rpush(queue.keys.queued_list(DEFAULT_PRIORITY), queued.entry(task_id, 0))
    await redis.hincrby(queue.keys.queued, str(DEFAULT_PRIORITY), 1)
