"""Stale entries in the queued lists: what cancelling queued tasks leaves behind costs a claim a
bounded pass, is never run, and is never listed or counted."""

from __future__ import annotations

from dtq.store import calls
from dtq.task import TaskState
from tests.redis.scripts.conftest import Queue


async def cancel_all(queue: Queue, ids: list[str]) -> None:
    replies = await queue.scripts.run_many([calls.cancel(queue.keys, task_id) for task_id in ids])
    assert {r.outcome for r in replies} == {calls.Cancelled.NOW}


async def test_a_claim_passes_a_bounded_number_of_stale_entries_and_says_more_are_queued(queue: Queue) -> None:
    ids = await queue.add(2_600)
    await cancel_all(queue, ids[:2_500])
    first = await queue.claim(10)
    assert (first.tasks, first.ready_left) == ([], 100)  # 1,000 stale entries passed, 100 tasks still queued
    claimed: list[str] = []
    for _ in range(5):
        claimed += [t.id for t in (await queue.claim(100)).tasks]
    assert claimed == ids[2_500:]
    assert await queue.client.store.redis.exists(queue.keys.queued, queue.keys.queued_list(5)) == 0


async def test_a_page_of_queued_tasks_skips_stale_entries(queue: Queue) -> None:
    ids = await queue.add(30)
    await cancel_all(queue, ids[5:25])
    page = await queue.client.tasks("q", TaskState.QUEUED, limit=8)
    assert [t.id for t in page.tasks] == ids[:5] + ids[25:28] and page.total == 10
    rest = await queue.client.tasks("q", TaskState.QUEUED, limit=8, cursor=page.next_cursor or 0)
    assert [t.id for t in rest.tasks] == ids[28:] and rest.next_cursor is None
