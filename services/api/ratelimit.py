"""Per-token request rate limits: a token bucket per token, in this API process."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass(slots=True)
class Bucket:
    """Tokens available and when they were last counted."""

    tokens: float
    at: float


class RateLimiter:
    """Allows `rate` requests per second per key, with bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[bytes, Bucket] = {}

    def acquire(self, key: bytes) -> float:
        """0 if the request may go ahead, else seconds until it could."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> str:
        """A Retry-After header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(wait)))
