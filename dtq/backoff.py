"""Retry delays: exponential backoff with a cap and symmetric jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass

from dtq.settings import TaskDefaults


@dataclass(frozen=True, slots=True)
class Backoff:
    """delay(n) = min(max, base * factor^(n-1)), then spread by +/- jitter of itself."""

    base: float = 1.0
    factor: float = 2.0
    max: float = 3600.0
    jitter: float = 0.2

    @classmethod
    def from_defaults(cls, defaults: TaskDefaults) -> Backoff:
        """The policy the settings give every task that sets none of its own."""
        return cls(defaults.backoff_base, defaults.backoff_factor, defaults.backoff_max, defaults.backoff_jitter)

    def bounds(self, attempt: int) -> tuple[float, float]:
        """Smallest and largest delay after failed attempt number `attempt` (1-based)."""
        exponent = min(max(attempt - 1, 0), 1000)  # past ~1000 the cap wins anyway; avoid float overflow
        nominal = min(self.max, self.base * self.factor**exponent) if self.factor > 1 else min(self.max, self.base)
        spread = nominal * self.jitter
        return max(0.0, nominal - spread), nominal + spread

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """A delay drawn uniformly within `bounds(attempt)`."""
        low, high = self.bounds(attempt)
        return (rng or random).uniform(low, high)
