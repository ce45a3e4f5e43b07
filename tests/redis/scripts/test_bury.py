"""bury.lua: 1 = recorded (dead or cancelled), 0 = lease lost; any other final state is an error."""

from __future__ import annotations

import pytest
import redis.exceptions

from dtq.store import calls
from dtq.store.calls import Burial
from tests.redis.scripts.conftest import Queue


async def test_dead_letters_a_held_task(queue: Queue) -> None:
    (task_id,) = await queue.add()
    batch = await queue.claim(token="mine")
    flags = await queue.scripts.run(calls.bury(queue.keys, "dead", [Burial(task_id, "mine", "t", b"{}")]))
    assert flags == [True]
    assert await queue.state(task_id) == "dead"
    died = await queue.client.store.redis.zscore(queue.keys.dead, task_id)
    assert died is not None and 0 <= died - batch.now_ms < 1000
    totals = await queue.client.store.redis.hgetall(queue.keys.totals)
    assert totals[b"dead|t"] == b"1" and totals[b"failed|t"] == b"1"


async def test_cancelled_goes_to_the_cancelled_set_with_retention(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="mine")
    await queue.scripts.run(calls.bury(queue.keys, "cancelled", [Burial(task_id, "mine", "t", b"{}")]))
    assert await queue.state(task_id) == "cancelled"
    assert await queue.members(queue.keys.cancelled) == [task_id]


async def test_a_stale_token_is_refused(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="new")
    flags = await queue.scripts.run(calls.bury(queue.keys, "dead", [Burial(task_id, "old", "t", b"{}")]))
    assert flags == [False]
    assert await queue.state(task_id) == "active"


async def test_an_unknown_final_state_is_refused_before_any_write(queue: Queue) -> None:
    (task_id,) = await queue.add()
    await queue.claim(token="mine")
    call = calls.bury(queue.keys, "dead", [Burial(task_id, "mine", "t", b"{}")])
    bogus = calls.Call(call.script, call.keys, ("succeeded", *call.args[1:]), call.parse)
    with pytest.raises(redis.exceptions.ResponseError, match="final state"):
        await queue.scripts.run(bogus)
    assert await queue.state(task_id) == "active"
