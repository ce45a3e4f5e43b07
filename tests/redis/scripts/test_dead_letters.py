"""redrive.lua and purge.lua: both return how many of the given ids were dead."""

from __future__ import annotations

from dtq.store import calls
from dtq.store.calls import Burial
from tests.redis.scripts.conftest import Queue


async def bury_all(queue: Queue, count: int) -> list[str]:
    ids = await queue.add(count)
    await queue.claim(token="mine")
    items = [Burial(i, "mine", "t", b"{}") for i in ids]
    await queue.scripts.run(calls.bury(queue.keys, "dead", items))
    return ids


async def test_redrive_requeues_dead_tasks_with_fresh_attempts(queue: Queue) -> None:
    ids = await bury_all(queue, 2)
    assert await queue.scripts.run(calls.redrive(queue.keys, [ids[0], "not-dead"])) == 1
    assert await queue.state(ids[0]) == "queued"
    assert await queue.attempts(ids[0]) == 0
    assert await queue.members(queue.keys.dead) == [ids[1]]
    assert await queue.scripts.run(calls.redrive(queue.keys, [ids[0]])) == 0  # not dead any more


async def test_purge_deletes_every_column_of_dead_tasks_only(queue: Queue) -> None:
    dead = await bury_all(queue, 1)
    (alive,) = await queue.add()
    assert await queue.scripts.run(calls.purge(queue.keys, [*dead, alive])) == 1
    for key in queue.keys.columns:
        assert await queue.client.store.redis.hexists(key, dead[0]) is False
    assert await queue.state(alive) == "queued"
