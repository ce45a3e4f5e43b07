"""Activity over time: the per-minute counters the scripts keep for each queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dtq.events import EVENT_NAMES, minute_field
from dtq.keys import QueueKeys
from dtq.store.connection import RedisClient, redis_errors


@dataclass(frozen=True, slots=True)
class Minute:
    """Counts of one minute (start time in epoch seconds)."""

    start: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def processed(self) -> int:
        """Attempts that ended: successes plus failures."""
        return self.counts.get("succeeded", 0) + self.counts.get("failed", 0)


async def minutes(
    redis: RedisClient, queues: Sequence[QueueKeys], span: int = 60, now: float | None = None
) -> list[Minute]:
    """The last `span` minutes, oldest first, summed over `queues`.

    Minutes are counted on Redis's clock, like the counters themselves.
    """
    if now is None:
        with redis_errors():
            seconds, _ = await redis.time()
        now = float(seconds)
    current = int(now // 60)
    wanted = list(range(current - span + 1, current + 1))
    fields = [minute_field(minute, event) for minute in wanted for event in EVENT_NAMES]
    with redis_errors():
        async with redis.pipeline(transaction=False) as pipe:
            for keys in queues:
                pipe.hmget(keys.activity, fields)  # one command per queue, whatever the span
            replies = await pipe.execute()
    totals = [dict.fromkeys(EVENT_NAMES, 0) for _ in wanted]
    for reply in replies:
        for index, count in enumerate(reply):
            if count is not None:
                totals[index // len(EVENT_NAMES)][EVENT_NAMES[index % len(EVENT_NAMES)]] += int(count)
    return [Minute(minute * 60, counts) for minute, counts in zip(wanted, totals, strict=True)]
