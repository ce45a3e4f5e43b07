"""Scenario 9: Redis at its maxmemory, and a Redis that would evict keys.

Full memory (noeviction): the API answers 503 with Retry-After (never 500), nothing is half
written, tasks already queued keep flowing (their scripts may use memory past the limit), and
enqueue works again once retention frees memory; no configuration is touched to recover.
An eviction policy: workers and schedulers refuse to start and the API reports not-ready, each
saying why.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from dtq.task import TaskState
from tests.chaos.cluster import QUEUE, Cluster, Spec, wait_for
from tests.chaos.oracle import Ledger, Verdict, account, consistency, read_events
from tests.chaos.scenario import retention_of

HEADROOM = 3_000_000  # bytes of maxmemory above what Redis uses at the start
PAD = "x" * 20_000


@pytest.mark.timeout(300)
async def test_full_memory_refuses_enqueue_and_keeps_work_flowing(tmp_path: Path) -> None:
    verdict = Verdict("9-memory-guard", "short")
    env = {"RETENTION_FINISHED": "2", "SCHEDULER_JANITOR_INTERVAL": "1"}
    ledger = Ledger()
    async with Cluster(tmp_path, Spec(workers=2, concurrency=4, env=env)) as cluster:
        assert cluster.client is not None and cluster.http is not None
        admin = cluster.client.store.redis
        await cluster.client.pause(QUEUE)
        used = (await admin.info("memory"))["used_memory"]
        await admin.config_set("maxmemory", used + HEADROOM)
        refusal = None
        for n in range(2000):  # far more than fit
            ref = f"m{n}"
            ledger.invoke(ref)
            body = {"task": "chaos", "payload": {"ref": ref, "pad": PAD}, "key": ref}
            response = await cluster.http.post("/tasks", json=body)
            ledger.record(ref, str(response.status_code), response.json().get("id"))
            if response.status_code != 200:
                refusal = response
                break
        assert refusal is not None, "Redis never filled up"
        code = refusal.json()["error"]["code"]
        acked = ledger.count("ok")
        stored = await admin.hlen(cluster.client.store.keys(QUEUE).column("spec"))
        half_written = await consistency(cluster.client)
        await cluster.client.resume(QUEUE)  # DEL is allowed under maxmemory

        async def acked_succeeded() -> bool:
            records = await cluster.client.get_many(QUEUE, [next(iter(s.ids)) for s in ledger.submissions.values()
                                                           if s.outcome == "ok"])  # fmt: skip
            return all(r is not None and r.state is TaskState.SUCCEEDED for r in records)

        flowed = await wait_for(acked_succeeded, 60, "queued tasks to run while memory is full")
        ledger.invoke("still-full")
        full_again = await cluster.http.post("/tasks", json={"task": "chaos", "payload": {"ref": "still-full"}})
        ledger.record("still-full", str(full_again.status_code), full_again.json().get("id"))
        still_full = full_again.status_code
        began = time.monotonic()

        async def enqueue_works() -> bool:
            # every answer goes into the ledger, so a 500 while memory frees is counted, not skipped
            response = await cluster.http.post(
                "/tasks", json={"task": "chaos", "payload": {"ref": "after"}, "key": "after"}
            )
            ledger.record("after", str(response.status_code), response.json().get("id"))
            return response.status_code == 200

        ledger.invoke("after")
        resumed = await wait_for(enqueue_works, 60, "enqueue to work again after retention freed memory", step=0.5)
        resumed_after = time.monotonic() - began
        await asyncio.sleep(0.5)
        acc = await account(ledger, read_events(cluster.oracle), cluster.client, retention=retention_of(cluster))  # type: ignore[arg-type]
        exits = cluster.unexpected_exits()
    # retention has deleted the succeeded records by now; acked_succeeded() saw each succeed
    lost = [r for r, s in ledger.submissions.items() if s.outcome == "ok" and not acc.finishes.get(r)]
    verdict.facts.update(
        accepted_before_full=acked,
        stored=stored,
        refusal_code=code,
        queued_ran_in_s=round(flowed, 2),
        enqueue_resumed_after_s=round(resumed_after, 2),
        http_statuses=dict(ledger.statuses),
    )
    verdict.check("refusal", refusal.status_code == 503 and code == "redis_out_of_memory", refusal.status_code, 503)
    verdict.check("Retry-After on the refusal", bool(refusal.headers.get("retry-after")),
                  refusal.headers.get("retry-after"), "present")  # fmt: skip
    verdict.check("http 500", ledger.statuses["500"] == 0, ledger.statuses["500"], 0)
    verdict.check("nothing half-written", stored == acked and not half_written, [stored, half_written[:3]],
                  f"{acked} records, consistency clean")  # fmt: skip
    verdict.check("still refused while full", still_full == 503, still_full, 503)
    verdict.check("enqueue resumes once memory frees", resumed is not None, round(resumed_after, 2), "<= 60s")
    verdict.check("lost", not lost, len(lost), 0)
    verdict.check("processes died unexpectedly", not exits, exits, "none")
    verdict.settle()


@pytest.mark.timeout(120)
async def test_an_evicting_redis_is_refused(tmp_path: Path) -> None:
    verdict = Verdict("9-eviction-policy-refused", "short")
    spec = Spec(redis_extra=["--maxmemory-policy", "allkeys-lru"], check_redis=False)
    cluster = Cluster(tmp_path, spec)
    try:
        await cluster.start_servers()
        assert cluster.http is not None
        worker = cluster.start_worker()
        scheduler = cluster.start_scheduler(0)
        api = cluster.start("api", "--port", str(cluster.api_port))
        for proc in (worker, scheduler, api):
            await wait_for(lambda p=proc: not p.alive(), 60, f"{proc.role} to refuse to start")
            proc.expected_end = True
        logs = {proc.role: proc.log.read_text() for proc in (worker, scheduler, api)}
        outcomes = {
            proc.role: [proc.process.returncode, "noeviction" in logs[proc.role], "Traceback" in logs[proc.role]]
            for proc in (worker, scheduler, api)
        }
    finally:
        await cluster.__aexit__(None, None, None)
    verdict.facts["outcomes"] = outcomes
    for role in ("worker", "scheduler", "api"):
        verdict.check(f"{role} refuses to start", outcomes[role] == [2, True, False], outcomes[role],
                      "[exit 2, says noeviction, no traceback]")  # fmt: skip
    verdict.settle()
