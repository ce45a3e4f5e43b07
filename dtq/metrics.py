"""Latency histograms a worker keeps in memory and adds to Redis now and then.

Observing costs a bisect and two increments; the worker hands the accumulated counts to
`Store.add_observations` (one pipelined round trip into per-queue hashes, see
dtq.store.histograms), so the API's /metrics can show task duration and pickup latency for the
whole fleet, and counts survive API restarts.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
PICKUP_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0)
HISTOGRAMS = {"duration": DURATION_BUCKETS, "pickup": PICKUP_BUCKETS}


@dataclass(slots=True)
class Counts:
    """Observations since the last flush: per bucket index (last = +Inf), their sum and count."""

    buckets: list[int]
    total: float = 0.0
    count: int = 0


@dataclass(slots=True)
class Recorder:
    """Per (queue, histogram) counts waiting to be added to Redis."""

    pending: dict[tuple[str, str], Counts] = field(default_factory=dict)

    def observe(self, queue: str, name: str, seconds: float) -> None:
        """Count one observation of histogram `name` ("duration" or "pickup")."""
        bounds = HISTOGRAMS[name]
        counts = self.pending.get((queue, name))
        if counts is None:
            counts = self.pending[(queue, name)] = Counts([0] * (len(bounds) + 1))
        counts.buckets[bisect.bisect_left(bounds, seconds)] += 1
        counts.total += seconds
        counts.count += 1

    def take(self) -> dict[tuple[str, str], Counts]:
        """Everything observed since the last take; `give_back` it if it could not be stored."""
        pending, self.pending = self.pending, {}
        return pending

    def give_back(self, pending: Mapping[tuple[str, str], Counts]) -> None:
        """Merge counts that `take` returned back in (their write to Redis failed)."""
        for (queue, name), counts in pending.items():
            self._merge(queue, name, counts)

    def _merge(self, queue: str, name: str, counts: Counts) -> None:
        mine = self.pending.setdefault((queue, name), Counts([0] * len(counts.buckets)))
        mine.buckets = [a + b for a, b in zip(mine.buckets, counts.buckets, strict=True)]
        mine.total += counts.total
        mine.count += counts.count


def labels(bounds: Sequence[float]) -> Iterator[str]:
    """The bucket labels of `bounds` as the histogram hashes name them (and Prometheus shows)."""
    yield from (f"{b:g}" for b in bounds)
    yield "+Inf"
