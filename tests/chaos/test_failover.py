"""Scenarios 11 and 12: the primary holding the queue SIGKILLed under load, on a Redis Cluster (11)
and under Sentinel (12), twice per run; each time its replica takes over, and the killed server
comes back as a replica of the new primary.

Replication is asynchronous, so a task the API acknowledged just before the kill may not have
reached the replica. On loopback the replica trails by well under a millisecond, so the
`lagging` forms make the replica fall LAG seconds behind before each kill, the way a slow network
or a busy replica would: the replica's link to its primary is cut and, with a wrong `masterauth`,
cannot come back until the kill. What the primary acknowledged meanwhile is exactly the loss
window. A loss
is allowed only inside it (acknowledged at most LAG + SLACK seconds before a kill;
docs/scaling.md). With DTQ_REDIS_WAIT_REPLICAS=1 the API answers only once the replica has the
task, so even with a lagging replica nothing may be lost: those enqueues get a 503 instead.

Pass, besides the window: API, workers and schedulers keep running without a restart (a delayed
task enqueued after each failover is promoted and run), no 500, no unexpected enqueue, a clean
consistency scan, and extra executions bounded by what was in flight. A ref may be stored twice
only if a try met a 503 first: the first copy can be stored, run, and its idempotency key lost
with the failover, before the producer's retry (counted as duplicate_enqueues_after_a_503).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.chaos.cluster import Spec, wait_for
from tests.chaos.load import Producer
from tests.chaos.oracle import Accounting, Ledger, Verdict, account, consistency, read_events, spread
from tests.chaos.replicated import Replicated
from tests.chaos.scenario import drain, mixed_sleep
from tests.chaos.test_redis_crash import delayed_round_trip
from tests.support.redis_cluster import SentinelGroup
from tests.support.redis_server import RedisServer

TASKS = 3000
RATE = 150.0
FAILOVERS = 2
LAG = 0.5  # seconds the replica is frozen before a kill, in the lagging forms
SLACK = 0.5  # seconds: replication lag on loopback, and the API's answer still travelling
SCENARIO = {"cluster": "11-cluster-primary-killed", "sentinel": "12-sentinel-failover"}


@pytest.mark.chaos
@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("wait", "lag"), [(0, 0.0), (0, LAG), (1, LAG)], ids=["async", "async-lagging", "wait1-lagging"]
)
@pytest.mark.parametrize("topology", ["cluster", "sentinel"])
async def test_primary_killed_under_load(topology: str, wait: int, lag: float, tmp_path: Path) -> None:
    verdict = Verdict(SCENARIO[topology], ("wait1" if wait else "async") + ("-lagging" if lag else ""))
    window = lag + SLACK
    spec = Spec(workers=3, concurrency=4, env={"REDIS_WAIT_REPLICAS": str(wait)} if wait else {})
    ledger = Ledger()
    kills: list[float] = []
    failovers: list[dict[str, Any]] = []
    async with Replicated(tmp_path, spec, topology) as deployment:
        producer = Producer(deployment.http, ledger, concurrency=8, rate=RATE, body=mixed_sleep)  # type: ignore[arg-type]
        producing = asyncio.create_task(producer.run(TASKS))
        for number in range(FAILOVERS):
            await asyncio.sleep(TASKS / RATE / (FAILOVERS + 1))
            victim = deployment.primary_of_queue()
            replica = deployment.replica_of(victim)
            if lag:
                cut_link(replica)
                await asyncio.sleep(lag)
            kills.append(time.time())
            victim.kill()
            if lag:
                mend_link(replica)
            await deployment.wait_taken_over(victim)
            took = time.time() - kills[-1]
            await asyncio.to_thread(victim.start)  # back, as a replica of the new primary
            await wait_for(lambda: back_in_sync(deployment), 60, "the old primary back as a replica", step=0.25)
            late = await delayed_round_trip(deployment, f"probe{number}", ledger)  # type: ignore[arg-type]
            failovers.append({"taken_over_s": round(took, 2), "delayed_task_late_s": late})
        await producing
        drained = await drain(deployment, 180)
        acc = await account(ledger, read_events(deployment.oracle), deployment.client)  # type: ignore[arg-type]
        problems = await consistency(deployment.client)  # type: ignore[arg-type]
        exits = deployment.unexpected_exits()
    ages = loss_ages(acc, ledger, kills)
    verdict.facts.update(failovers=failovers, accounting=acc.summary(), http_statuses=dict(ledger.statuses),
                         lost_acknowledged_before_kill_s=ages, replica_lag_s=lag)  # fmt: skip
    verdict.facts["taken_over_s"] = spread([f["taken_over_s"] for f in failovers])
    verdict.check("drained", drained is not None, drained, "<= 180s")
    verdict.check("lost outside the window", all(a is not None and -SLACK <= a <= window for a in ages), ages,
                  f"each acknowledged <= {window}s before a kill")  # fmt: skip
    if wait:
        verdict.check("lost with replica acknowledgement", not acc.lost, len(acc.lost), 0)
    verdict.check("unexpected", not acc.unexpected, len(acc.unexpected), 0)
    unexplained = ambiguous(ledger, acc.duplicate_enqueues)
    verdict.facts["duplicate_enqueues_after_a_503"] = len(acc.duplicate_enqueues) - len(unexplained)
    verdict.check("duplicate enqueues without a 503 before", not unexplained, unexplained, "none")
    verdict.check("http 500", ledger.statuses["500"] == 0, ledger.statuses["500"], 0)
    verdict.check("consistency scan", not problems, problems[:5], "clean")
    verdict.check("processes died unexpectedly", not exits, exits, "none")
    lates = [f["delayed_task_late_s"] for f in failovers]
    verdict.check("work after each failover", all(x is not None and x <= 10 for x in lates), lates, "<= 10s late")
    bound = FAILOVERS * spec.workers * spec.concurrency * 2
    verdict.check("extra executions", acc.extra_executions <= bound, acc.extra_executions, f"<= {bound}")
    verdict.settle()


def loss_ages(acc: Accounting, ledger: Ledger, kills: list[float]) -> list[float | None]:
    """For each lost task: seconds from its acknowledgement to the kill that lost it (None: no kill
    can explain the loss). A reply can reach the producer a moment after the kill was issued
    although Redis wrote the task before it, so a kill up to SLACK before the ack counts too."""
    ages: list[float | None] = []
    for ref in acc.lost:
        acked = ledger.submissions[ref].acked_at
        after = [k - acked for k in kills if acked is not None and k >= acked - SLACK]
        ages.append(round(min(after), 3) if after else None)
    return ages


def ambiguous(ledger: Ledger, refs: list[str]) -> list[str]:
    """Refs among `refs` with no try that met a 503 or a reset before being acknowledged: a 503
    (Redis unreachable, or not replicated in time) does not say the task was not stored, and if it
    was, and ran, a retry after its idempotency key was lost with a failover stores it again."""
    return [r for r in refs if not any(t != "200" for t in ledger.submissions[r].tries)]


def cut_link(replica: RedisServer) -> None:
    """Drop the replica's link to its primary and keep it down (its resync cannot authenticate)."""
    with redis.Redis(port=replica.port) as client:
        client.config_set("masterauth", "wrong-on-purpose")
        client.client_kill_filter(_type="master")


def mend_link(replica: RedisServer) -> None:
    with redis.Redis(port=replica.port) as client:
        client.config_set("masterauth", "")


def back_in_sync(deployment: Replicated) -> bool:
    """The killed server is back as a replica of the new primary, in sync, and known as such."""
    group = deployment.group
    if isinstance(group, SentinelGroup):
        roles = sorted(_role(s.port) for s in group.servers)
        return roles == ["master", "replica in sync"] and group._sentinels_agree()
    return group.is_healthy()


def _role(port: int) -> str:
    with redis.Redis(port=port, socket_timeout=1, decode_responses=True) as client:
        info = client.info("replication")
    if info["role"] == "master":
        return "master"
    return "replica in sync" if info.get("master_link_status") == "up" else "replica"
