"""The workload registry.

A workload is any object with a ``name`` and ``run(ctx, contenders) -> Section``. It decides
itself which contenders it applies to, so a dtq-only workload just keeps
``[c for c in contenders if c.name == "dtq"]``. Register it in ``WORKLOADS`` below and, if it
should run by default, add its name to ``DEFAULT``; ``--workloads`` picks others by name. A
command it runs that may be missing goes in ``TOOLS``, so the run stops before it starts.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import Protocol

from bench.contender import Contender
from bench.context import Context
from bench.results import Section
from bench.workloads.backlog import Backlog
from bench.workloads.ceiling import Ceiling
from bench.workloads.dead_letters import DeadLetters
from bench.workloads.drain import Drain
from bench.workloads.http_enqueue import INSTALL_WRK, HttpEnqueue
from bench.workloads.introspection import Introspection
from bench.workloads.io_drain import IoDrain
from bench.workloads.latency import Latency
from bench.workloads.many_queues import ManyQueues
from bench.workloads.memory import Memory
from bench.workloads.scheduled import Scheduled
from bench.workloads.scheduler_lateness import SchedulerLateness

SCALE_FAMILY = (Backlog(), Scheduled(), DeadLetters(), ManyQueues(), Introspection())


class Workload(Protocol):
    """One measured scenario; returns what it adds to the report."""

    @property
    def name(self) -> str: ...

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section: ...


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        *(Ceiling(), Drain(), Latency(), HttpEnqueue(), SchedulerLateness(), IoDrain(), Memory()),
        *SCALE_FAMILY,
    )
}
# The scale family (dtq only, issue 14 part 3: cost as the work grows) runs by default too;
# `--workloads scale` names all of it at once.
SCALE = "scale"
DEFAULT: tuple[str, ...] = (
    *("drain", "latency", "ceiling", "http-enqueue", "scheduler-lateness", "io-drain", "memory"),
    *(w.name for w in SCALE_FAMILY),
)
# Workload -> {command it runs: how to get it}; redis-server itself is always needed.
TOOLS: dict[str, dict[str, str]] = {
    "ceiling": {"redis-benchmark": "it comes with Redis (Debian/Ubuntu: `apt-get install -y redis-tools`)"},
    "http-enqueue": {"wrk": INSTALL_WRK},
}


def select(names: str | None) -> list[Workload]:
    """Workloads named in a comma-separated ``--workloads`` value; the default set if None."""
    chosen = DEFAULT if not names else tuple(n.strip() for n in names.split(",") if n.strip())
    chosen = tuple(w for n in chosen for w in ((s.name for s in SCALE_FAMILY) if n == SCALE else (n,)))
    unknown = [n for n in chosen if n not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; known: {', '.join(WORKLOADS)}")
    return [WORKLOADS[n] for n in chosen]


def missing_tools(selected: Sequence[Workload]) -> list[str]:
    """One line per command a selected workload needs that is not on PATH, saying how to get it."""
    return [
        f"{tool} is not on PATH (needed by the {w.name} workload): {how}; or leave the workload out with --workloads"
        for w in selected
        for tool, how in TOOLS.get(w.name, {}).items()
        if shutil.which(tool) is None
    ]
