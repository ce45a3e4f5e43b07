"""Small statistics helpers: spread over repeats and percentiles of samples."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    """Min, median and max of one figure over the repeats."""

    min: float
    median: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(min(values), statistics.median(values), max(values))

    def render(self, digits: int = 0) -> str:
        """``median [min-max]``, or just the value when there was one repeat."""
        if self.min == self.max:
            return _fmt(self.median, digits)
        lo, mid, hi = (_fmt(v, digits) for v in (self.min, self.median, self.max))
        return f"{mid} [{lo}-{hi}]"


def _fmt(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: every reported value was observed)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]
