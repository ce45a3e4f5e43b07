"""Slots: take, give, wait for a free slot, wait for none held; abandoned threads keep a slot."""

from __future__ import annotations

import asyncio

import pytest

from dtq.slots import Slots


def test_taking_fills_and_giving_frees() -> None:
    slots: Slots[str] = Slots(2)
    slots.take("a", "task a")
    slots.take("b", "task b")
    assert (slots.free, len(slots), slots.get("a")) == (0, 2, "task a")
    assert slots.give("a") == "task a" and slots.free == 1
    assert slots.give("a") is None  # a late duplicate frees nothing
    assert list(slots) == ["task b"]


def test_an_abandoned_thread_keeps_its_slot_until_it_returns() -> None:
    slots: Slots[str] = Slots(1)
    slots.take("a", "task a")
    slots.abandon()
    slots.give("a")
    assert (slots.free, len(slots), slots.abandoned) == (0, 0, 1)
    slots.returned()
    assert slots.free == 1


def test_a_worker_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        Slots(0)


async def test_waiting_for_a_free_slot_ends_when_one_is_given() -> None:
    slots: Slots[str] = Slots(1)
    slots.take("a", "task a")
    waiting = asyncio.create_task(slots.wait_for_free())
    await asyncio.sleep(0)  # let it start waiting
    assert not waiting.done()
    slots.give("a")
    await asyncio.wait_for(waiting, 1)


async def test_waiting_for_empty_ends_with_the_last_task_not_the_first() -> None:
    slots: Slots[str] = Slots(3)
    for task_id in "abc":
        slots.take(task_id, task_id)
    waiting = asyncio.create_task(slots.wait_for_empty())
    for task_id in "ab":
        slots.give(task_id)
        await asyncio.sleep(0)
        assert not waiting.done()
    slots.give("c")
    await asyncio.wait_for(waiting, 1)


async def test_iterating_while_giving_is_safe() -> None:
    slots: Slots[str] = Slots(3)
    for task_id in "abc":
        slots.take(task_id, task_id)
    for held in slots:
        slots.give(held)
    assert len(slots) == 0
    await asyncio.wait_for(slots.wait_for_empty(), 1)
