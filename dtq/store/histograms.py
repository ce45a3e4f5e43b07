"""The latency histograms in Redis: one hash per queue and histogram, bucket label -> count,
plus "sum" and "count". Workers add to them; /metrics reads them back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from dtq.keys import QueueKeys
from dtq.metrics import HISTOGRAMS, Recorder, labels
from dtq.store.connection import RedisClient, redis_errors


async def add(redis: RedisClient, keys_for: Callable[[str], QueueKeys], recorder: Recorder) -> None:
    """Add everything `recorder` observed, in one round trip; on failure the counts are kept."""
    pending = recorder.take()
    if not pending:
        return
    try:
        with redis_errors():
            async with redis.pipeline(transaction=False) as pipe:
                for (queue, name), counts in pending.items():
                    key = keys_for(queue).histogram(name)
                    for bound, n in zip(labels(HISTOGRAMS[name]), counts.buckets, strict=True):
                        if n:
                            pipe.hincrby(key, bound, n)
                    pipe.hincrbyfloat(key, "sum", counts.total)
                    pipe.hincrby(key, "count", counts.count)
                await pipe.execute()
    except BaseException:
        recorder.give_back(pending)
        raise


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
    for label in labels(HISTOGRAMS[name]):
        running += int(raw.get(label.encode(), 0))
        cumulative.append((label, running))
    return Histogram(cumulative, float(raw.get(b"sum", 0)), int(raw.get(b"count", 0)))


def merge_histograms(parts: Sequence[Histogram]) -> Histogram:
    """The histogram of several queues together (their buckets are the same)."""
    if not parts:
        raise ValueError("nothing to merge")
    cumulative = [(bound, sum(p.cumulative[i][1] for p in parts)) for i, (bound, _) in enumerate(parts[0].cumulative)]
    return Histogram(cumulative, sum(p.total for p in parts), sum(p.count for p in parts))
