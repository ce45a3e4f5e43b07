"""Latency histograms a worker keeps in memory and adds to Redis now and then.

Observing costs a bisect and two increments; the heartbeat adds the accumulated counts to
per-queue hashes (one pipelined round trip), so the API's /metrics can show task duration and
pickup latency for the whole fleet, and counts survive API restarts.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from dtq.keys import QueueKeys
from dtq.store.connection import RedisClient, redis_errors

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

    async def flush(self, redis: RedisClient, keys_for: Callable[[str], QueueKeys]) -> None:
        """Add everything observed to Redis; on failure the counts are kept for the next try."""
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        try:
            with redis_errors():
                async with redis.pipeline(transaction=False) as pipe:
                    for (queue, name), counts in pending.items():
                        key = keys_for(queue).histogram(name)
                        for bound, n in zip(_labels(HISTOGRAMS[name]), counts.buckets, strict=True):
                            if n:
                                pipe.hincrby(key, bound, n)
                        pipe.hincrbyfloat(key, "sum", counts.total)
                        pipe.hincrby(key, "count", counts.count)
                    await pipe.execute()
        except BaseException:
            for (queue, name), counts in pending.items():
                self._merge(queue, name, counts)
            raise

    def _merge(self, queue: str, name: str, counts: Counts) -> None:
        mine = self.pending.setdefault((queue, name), Counts([0] * len(counts.buckets)))
        mine.buckets = [a + b for a, b in zip(mine.buckets, counts.buckets, strict=True)]
        mine.total += counts.total
        mine.count += counts.count


def _labels(bounds: Sequence[float]) -> Iterator[str]:
    yield from (f"{b:g}" for b in bounds)
    yield "+Inf"


@dataclass(frozen=True, slots=True)
class Histogram:
    """A histogram read back from Redis, with cumulative buckets as Prometheus wants them."""

    cumulative: list[tuple[str, int]]
    total: float
    count: int


def read_histogram(name: str, raw: Mapping[bytes, bytes]) -> Histogram:
    """Decode one stored histogram hash."""
    running = 0
    cumulative = []
    for label in _labels(HISTOGRAMS[name]):
        running += int(raw.get(label.encode(), 0))
        cumulative.append((label, running))
    return Histogram(cumulative, float(raw.get(b"sum", 0)), int(raw.get(b"count", 0)))
