"""A worker's slots and the tasks holding them.

A slot is taken when a task is claimed and given back only once its outcome is recorded (or it
is handed back), so a worker never holds more than `size` leases: that bounds what a crash can
make run twice. A sync handler abandoned past its timeout keeps running in its thread; it keeps
a slot until the thread returns, so a stuck handler cannot make the worker overcommit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Generic, TypeVar

H = TypeVar("H")


class Slots(Generic[H]):
    """Up to `size` held tasks (of any type `H`), by task id."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a worker needs at least one slot")
        self.size = size
        self._held: dict[str, H] = {}
        self._abandoned = 0  # threads still running handlers whose tasks were already settled
        self._changed = asyncio.Event()  # pulsed whenever a slot frees up

    @property
    def free(self) -> int:
        """How many more tasks may be taken now."""
        return self.size - len(self._held) - self._abandoned

    @property
    def abandoned(self) -> int:
        """Threads abandoned past their timeout that have not returned yet."""
        return self._abandoned

    def take(self, task_id: str, held: H) -> None:
        """Hold `held` in a slot (the caller checked `free`)."""
        self._held[task_id] = held

    def give(self, task_id: str) -> H | None:
        """Free the slot of `task_id` (None if it held none: a late duplicate)."""
        held = self._held.pop(task_id, None)
        if held is not None:
            self._freed()
        return held

    def get(self, task_id: str) -> H | None:
        """The task held under `task_id`, if any."""
        return self._held.get(task_id)

    def abandon(self) -> None:
        """A handler's thread goes on after its task was settled: it keeps a slot until `returned`."""
        self._abandoned += 1

    def returned(self) -> None:
        """An abandoned thread returned; its slot is free."""
        self._abandoned -= 1
        self._freed()

    def __len__(self) -> int:
        return len(self._held)

    def __iter__(self) -> Iterator[H]:
        """The held tasks (a snapshot: taking or giving while iterating is safe)."""
        return iter(list(self._held.values()))

    async def wait_for_free(self) -> None:
        """Return once at least one slot is free."""
        while self.free <= 0:
            await self._wait_for_change()

    async def wait_for_empty(self) -> None:
        """Return once no task is held (abandoned threads do not count: their tasks are settled)."""
        while self._held:
            await self._wait_for_change()

    async def _wait_for_change(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    def _freed(self) -> None:
        self._changed.set()
