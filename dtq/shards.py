"""Sharded hot queues: one logical queue spread over N physical queues, each in its own slot.

A queue lives in one Redis Cluster slot, so one very busy queue loads one node however big the
cluster is. `DTQ_REDIS_SHARDS=emails=4` spreads `emails` over the physical queues `emails~0` ..
`emails~3` (`~` cannot occur in a queue name, so these never collide with one). Each is an
ordinary queue with its own hash tag; only producers and workers know they belong together:

- a producer puts each task in one of them: round-robin, or, for a task with an idempotency key,
  the one the key hashes to, so the key is still checked in one place;
- a worker consuming `emails` claims from all N in turn (the worker's usual rotation over its
  queues), with priority and FIFO kept within each one.

The cost is ordering: priority is strict and FIFO holds only within a physical queue, so across
the logical queue a lower-priority or later task may start before a higher or earlier one
waiting in another shard. Every process must use the same shard map (the chart renders it into
every component); growing N is safe, shrinking it strands the tasks of the removed shards until
a worker consumes them by their physical names.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from dtq.errors import InvalidQueueName
from dtq.keys import check_queue_name

SEPARATOR = "~"
MAX_SHARDS = 256

T = TypeVar("T")


def physical_name(queue: str, index: int) -> str:
    """The name of shard `index` of `queue`."""
    return f"{queue}{SEPARATOR}{index}"


def parse_shard_map(value: object) -> object:
    """Accept `emails=4,reports=2` from the environment as well as a mapping from Python."""
    if not isinstance(value, str):
        return value
    parsed: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        name, equals, count = item.partition("=")
        if not equals:
            raise ValueError(f"{item.strip()!r} is not queue=count")
        parsed[name.strip()] = count.strip()
    return parsed


def check_shard_map(shards: Mapping[str, int]) -> Mapping[str, int]:
    """Every name a valid logical queue name and every count 1..MAX_SHARDS."""
    for queue, count in shards.items():
        if SEPARATOR in queue:
            raise ValueError(f"{queue!r}: shard a logical queue, not one of its physical shards")
        try:
            check_queue_name(queue)
        except InvalidQueueName as exc:
            raise ValueError(str(exc)) from None
        if not 1 <= count <= MAX_SHARDS:
            raise ValueError(f"{queue}={count}: a queue has 1 to {MAX_SHARDS} shards")
    return shards


class Shards:
    """The shard map of one process: which logical queues are spread, and over how many."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts = {queue: n for queue, n in counts.items() if n > 1}
        self._turn = {queue: itertools.cycle(range(n)) for queue, n in self.counts.items()}

    def __bool__(self) -> bool:
        return bool(self.counts)

    def of(self, queue: str) -> list[str]:
        """The physical queues of `queue` (itself when it is not sharded)."""
        n = self.counts.get(queue)
        return [physical_name(queue, i) for i in range(n)] if n else [queue]

    def expand(self, queues: Iterable[str]) -> list[str]:
        """`queues` with every sharded one replaced by its physical queues."""
        if not self.counts:
            return list(queues)
        return [name for queue in queues for name in self.of(queue)]

    def place(self, queue: str, key: str | None) -> str:
        """The physical queue a new task of `queue` goes to."""
        n = self.counts.get(queue)
        if n is None:
            return queue
        index = zlib.crc32(key.encode()) % n if key is not None else next(self._turn[queue])
        return physical_name(queue, index)

    def spread(self, by_queue: Mapping[str, Sequence[T]], key_of: Callable[[T], str | None]) -> dict[str, list[T]]:
        """Items grouped by logical queue, regrouped by the physical queue each one goes to."""
        spread: dict[str, list[T]] = {}
        for queue, items in by_queue.items():
            if queue not in self.counts:
                spread.setdefault(queue, []).extend(items)
                continue
            for item in items:
                spread.setdefault(self.place(queue, key_of(item)), []).append(item)
        return spread
