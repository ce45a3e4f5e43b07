"""What every scenario shares: its two forms, draining, and the checks every run must pass."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from dtq.settings import RetentionSettings
from tests.chaos.cluster import Cluster, wait_for
from tests.chaos.oracle import Accounting, Ledger, Verdict, account, consistency, read_events


@dataclass(frozen=True)
class Form:
    """The numbers of one form of a scenario: `short` runs in `make test`, `full` in `make chaos`."""

    name: str
    tasks: int
    faults: int = 0
    lease: float = 3.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["extra"][name]
        except KeyError:
            raise AttributeError(name) from None


def forms(short: Form, full: Form) -> list[Any]:
    """Parameters for a scenario test: the short form by default, the full one under -m chaos."""
    return [pytest.param(short, id="short"), pytest.param(full, id="full", marks=pytest.mark.chaos)]


def small_sleep(ref: str) -> dict[str, Any]:
    """The default task body: 0-2 ms of work."""
    return {"task": "chaos", "payload": {"ref": ref, "sleep": round(random.uniform(0, 0.002), 4)}}


def mixed_sleep(ref: str) -> dict[str, Any]:
    """Mostly 0-2 ms of work, one task in ten 50-250 ms, so a fault finds tasks in flight."""
    long = random.random() < 0.1
    seconds = random.uniform(0.05, 0.25) if long else random.uniform(0, 0.002)
    return {"task": "chaos", "payload": {"ref": ref, "sleep": round(seconds, 4)}}


async def drain(cluster: Cluster, timeout: float) -> float | None:
    """Wait until no task is ready, scheduled, retrying or active; seconds taken, None on timeout."""

    async def empty() -> bool:
        return await cluster.pending() == 0

    try:
        return await wait_for(empty, timeout, "the queue to drain", step=0.25)
    except TimeoutError:
        return None


def retention_of(cluster: Cluster) -> float:
    """The cluster's finished-task retention, in seconds, as its processes read it."""
    return float(cluster.spec.env.get("RETENTION_FINISHED", RetentionSettings().finished))


async def settle_run(
    cluster: Cluster, ledger: Ledger, verdict: Verdict, *, drain_timeout: float, extra_bound: int | None
) -> Accounting:
    """Drain, account, and add the checks every scenario makes; returns the accounting."""
    drained = await drain(cluster, drain_timeout)
    acc = await account(ledger, read_events(cluster.oracle), cluster.client, retention=retention_of(cluster))  # type: ignore[arg-type]
    problems = await consistency(cluster.client)  # type: ignore[arg-type]
    verdict.facts["accounting"] = acc.summary()
    verdict.facts["http_statuses"] = dict(ledger.statuses)
    verdict.facts["drain_s"] = None if drained is None else round(drained, 2)
    verdict.check("drained", drained is not None, drained, f"<= {drain_timeout}s")
    verdict.check("lost", not acc.lost, len(acc.lost), 0)
    verdict.check("unexpected", not acc.unexpected, len(acc.unexpected), 0)
    verdict.check("duplicate enqueues", not acc.duplicate_enqueues, len(acc.duplicate_enqueues), 0)
    verdict.check("http 500", ledger.statuses["500"] == 0, ledger.statuses["500"], 0)
    verdict.check("consistency scan", not problems, problems[:5], "clean")
    verdict.check("processes died unexpectedly", not cluster.unexpected_exits(), cluster.unexpected_exits(), "none")
    if extra_bound is not None:
        verdict.check("extra executions", acc.extra_executions <= extra_bound, acc.extra_executions,
                      f"<= {extra_bound}")  # fmt: skip
    return acc
