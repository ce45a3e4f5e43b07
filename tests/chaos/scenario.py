"""What every scenario shares: its two forms, draining, and the checks every run must pass."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest

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


STRANDED_CLAIMS = (
    "known dtq bug: a claim whose reply is lost (or that redis-py resends) strands its tasks until their "
    "lease expires, which counts as a failed attempt; with max_retries 0 they die unrun "
    "(tests/chaos/test_lost_claim_reply.py)"
)


def stranded(acc: Accounting) -> list[str]:
    """Lost refs whose task died as LeaseExpired without ever starting: the stranded-claim bug."""
    found = []
    for ref in acc.lost:
        records = [acc.records[i] for i in acc.ids_of.get(ref, ()) if i in acc.records]
        if (
            not acc.starts.get(ref)
            and records
            and all(r.error is not None and r.error.type == "LeaseExpired" for r in records)
        ):
            found.append(ref)
    return found


RESET_RUNTIME_ERROR = "the handler is closed"
RESET_BUG = (
    "known dtq bug: under uvloop, reusing a connection whose peer reset it raises RuntimeError (not a Redis "
    "connection error): the API answers 500, schedulers exit, workers stop claiming "
    "(tests/chaos/test_connection_reset.py)"
)


def reset_bug_seen(cluster: Cluster) -> int:
    """Log lines of every process that show the reset-connection RuntimeError."""
    return sum(cluster.log_count(role, RESET_RUNTIME_ERROR) for role in ("api", "worker", "scheduler"))


def settle_or_known_bug(verdict: Verdict, acc: Accounting) -> None:
    """Settle the verdict, but report a run whose only failures are stranded claims as an expected
    failure naming the bug (every other failure still fails the test)."""
    lost_unrun = stranded(acc)
    verdict.facts["stranded_claims_lost"] = len(lost_unrun)
    failed = {c["check"] for c in verdict.checks if not c["ok"]}
    explained = failed <= {"lost", "dead-lettered"} and len(lost_unrun) == len(acc.lost) == len(acc.dead)
    if failed and explained:
        path = verdict.write()
        pytest.xfail(f"{STRANDED_CLAIMS}: {len(lost_unrun)} task(s) lost, e.g. {lost_unrun[:3]}; verdict in {path}")
    verdict.settle()


async def drain(cluster: Cluster, timeout: float) -> float | None:
    """Wait until no task is ready, scheduled, retrying or active; seconds taken, None on timeout."""

    async def empty() -> bool:
        return await cluster.pending() == 0

    try:
        return await wait_for(empty, timeout, "the queue to drain", step=0.25)
    except TimeoutError:
        return None


async def settle_run(
    cluster: Cluster, ledger: Ledger, verdict: Verdict, *, drain_timeout: float, extra_bound: int | None
) -> Accounting:
    """Drain, account, and add the checks every scenario makes; returns the accounting."""
    drained = await drain(cluster, drain_timeout)
    acc = await account(ledger, read_events(cluster.oracle), cluster.client)  # type: ignore[arg-type]
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
