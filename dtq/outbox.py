"""Outcomes waiting to be recorded, sent together in one pipelined round trip.

Under load many tasks finish between two round trips, so one flush records them all: per queue
one `complete`, one `retry` and one `bury` call at most. Entries leave the outbox only when
Redis answered; on an error they stay for the next flush.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from dtq.store import calls
from dtq.store.calls import Burial, Call, Failure, Success
from dtq.store.store import Store

Kind = Literal["complete", "retry", "dead", "cancelled", "unrunnable"]
Entry = Success | Failure | Burial


@dataclass(frozen=True, slots=True)
class Recorded:
    """What Redis said about one outcome: `accepted` is False when the lease had been lost."""

    queue: str
    id: str
    kind: Kind
    accepted: bool


class Outbox:
    """Pending outcomes of held tasks, grouped for batch recording."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: dict[tuple[str, Kind], list[Entry]] = defaultdict(list)
        self._count = 0
        self._filled = asyncio.Event()  # set by add(), so the recording loop sleeps while it is empty

    def __len__(self) -> int:
        return self._count

    def add(self, queue: str, kind: Kind, entry: Entry) -> None:
        """Queue one outcome for the next flush."""
        self._pending[(queue, kind)].append(entry)
        self._count += 1
        self._filled.set()

    async def wait_for_entries(self) -> None:
        """Return once an outcome is waiting to be flushed."""
        while not self._count:
            self._filled.clear()
            await self._filled.wait()

    async def flush(self) -> list[Recorded]:
        """Record everything pending in one round trip; raises (keeping entries) if Redis fails."""
        if not self._count:
            return []
        groups = list(self._pending.items())
        self._pending = defaultdict(list)
        self._count = 0
        try:
            verdicts = await self._store.run_many([self._call(queue, kind, items) for (queue, kind), items in groups])
        except BaseException:
            for (queue, kind), items in groups:
                for entry in items:
                    self.add(queue, kind, entry)
            raise
        return [
            Recorded(queue, entry.id, kind, accepted)
            for ((queue, kind), items), flags in zip(groups, verdicts, strict=True)
            for entry, accepted in zip(items, flags, strict=True)
        ]

    def _call(self, queue: str, kind: Kind, items: list[Entry]) -> Call[list[bool]]:
        if kind == "complete":
            return self._store.call(queue, calls.complete, [i for i in items if isinstance(i, Success)])
        if kind == "retry":
            return self._store.call(queue, calls.retry, [i for i in items if isinstance(i, Failure)])
        return self._store.call(queue, calls.bury, kind, [i for i in items if isinstance(i, Burial)])
