"""The workload registry.

A workload is any object with a ``name`` and ``run(ctx, contenders) -> Section``. It decides
itself which contenders it applies to, so a dtq-only workload just keeps
``[c for c in contenders if c.name == "dtq"]``. Register it in ``WORKLOADS`` below and, if it
should run by default, add its name to ``DEFAULT``; ``--workloads`` picks others by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bench.contender import Contender
from bench.context import Context
from bench.results import Section
from bench.workloads.ceiling import Ceiling
from bench.workloads.drain import Drain
from bench.workloads.latency import Latency


class Workload(Protocol):
    """One measured scenario; returns what it adds to the report."""

    @property
    def name(self) -> str: ...

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section: ...


WORKLOADS: dict[str, Workload] = {w.name: w for w in (Ceiling(), Drain(), Latency())}
DEFAULT: tuple[str, ...] = ("drain", "latency", "ceiling")


def select(names: str | None) -> list[Workload]:
    """Workloads named in a comma-separated ``--workloads`` value; the default set if None."""
    chosen = DEFAULT if not names else tuple(n.strip() for n in names.split(",") if n.strip())
    unknown = [n for n in chosen if n not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; known: {', '.join(WORKLOADS)}")
    return [WORKLOADS[n] for n in chosen]
