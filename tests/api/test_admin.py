"""Queues, dead letters, workers, health, metrics."""

from __future__ import annotations

import asyncio

import httpx

import dtq
from dtq.client import Client
from dtq.settings import Settings
from dtq.task import TaskRequest
from tests.redis.scripts.conftest import eventually


async def test_queue_counts_pause_and_resume(api: httpx.AsyncClient) -> None:
    await api.post("/tasks/bulk", json=[{"task": "t", "priority": 9}, {"task": "t", "priority": 1, "queue": "other"}])
    queues = {q["name"]: q for q in (await api.get("/queues")).json()["queues"]}
    assert set(queues) == {"default", "other"}
    assert queues["default"]["ready_by_priority"]["9"] == 1 and queues["default"]["ready"] == 1
    assert (await api.get("/queues/nope")).status_code == 404
    paused = await api.post("/queues/other/pause")
    assert paused.json()["paused"] is True
    assert (await api.get("/queues/other")).json()["paused"] is True
    assert (await api.post("/queues/other/resume")).json()["paused"] is False


async def test_dead_letters_list_filter_redrive_and_purge(api: httpx.AsyncClient, settings: Settings) -> None:
    app = dtq.App(builtins=True)

    @app.task(max_retries=0)
    def boom(payload: int) -> None:
        raise ValueError(payload)

    await api.post("/tasks/bulk", json=[{"task": "boom", "payload": n, "max_retries": 0} for n in range(3)])
    await api.post("/tasks", json={"task": "boom", "payload": 9, "max_retries": 0, "queue": "q2"})
    for queue in ("default", "q2"):
        await dtq.Worker(app, settings, queues=[queue], burst=True).run()
    first = (await api.get("/dead", params={"limit": 2})).json()
    assert len(first["tasks"]) == 2 and first["next_cursor"]
    second = (await api.get("/dead", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert len(second["tasks"]) == 2 and second["next_cursor"] is None
    every = [t["id"] for t in first["tasks"] + second["tasks"]]
    assert len(set(every)) == 4
    assert (await api.get("/dead", params={"cursor": "garbage"})).status_code == 422
    past_the_end = (await api.get("/dead", params={"cursor": "zzz|"})).json()
    assert past_the_end == {"tasks": [], "next_cursor": None}
    only = (await api.get("/dead", params={"queue": "q2"})).json()["tasks"]
    assert [t["payload"] for t in only] == [9] and only[0]["error"]["type"] == "ValueError"

    one = await api.post(f"/dead/{only[0]['id']}/retry")
    assert one.json() == {"id": only[0]["id"], "state": "queued"}
    assert (await api.post(f"/dead/{only[0]['id']}/retry")).status_code == 409
    assert (await api.post("/dead/retry", params={"task": "boom", "queue": "default"})).json() == {"count": 3}
    await dtq.Worker(app, settings, burst=True).run()
    last = (await api.get("/dead", params={"queue": "default", "limit": 1})).json()["tasks"][0]["id"]
    assert (await api.delete(f"/dead/{last}")).json() == {"count": 1}
    assert (await api.delete(f"/dead/{last}")).status_code == 404
    assert (await api.delete("/dead", params={"queue": "default"})).json() == {"count": 2}
    assert (await api.get("/dead", params={"queue": "default"})).json()["tasks"] == []


async def test_workers_health_and_readiness(api: httpx.AsyncClient, settings: Settings) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    worker = dtq.Worker(dtq.App(builtins=True), settings, concurrency=5)
    running = asyncio.create_task(worker.run())

    async def registered() -> bool:
        return bool((await api.get("/workers")).json()["workers"])

    await eventually(registered)
    (seen,) = (await api.get("/workers")).json()["workers"]
    assert (seen["id"], seen["concurrency"], seen["state"]) == (worker.id, 5, "running")
    worker.request_stop()
    await running


async def test_metrics_expose_counters_gauges_and_histograms(api: httpx.AsyncClient, settings: Settings) -> None:
    await api.post("/tasks/bulk", json=[{"task": "echo", "payload": n} for n in range(5)])
    await api.post("/tasks", json={"task": "fail", "queue": 'q"x'[:1]})
    later = (await api.post("/tasks", json={"task": "later", "delay": 600})).json()["id"]
    assert (await api.delete(f"/tasks/{later}")).json()["state"] == "cancelled"
    await dtq.Worker(dtq.App(builtins=True), settings, queues=["default", "q"], burst=True).run()
    response = await api.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'dtq_tasks_enqueued_total{queue="default",task="echo"} 5' in text
    assert 'dtq_tasks_succeeded_total{queue="default",task="echo"} 5' in text
    assert 'dtq_tasks_dead_total{queue="q",task="fail"} 1' in text
    assert 'dtq_tasks_cancelled_total{queue="default",task="later"} 1' in text
    assert 'dtq_queue_tasks{queue="default",state="succeeded"} 5' in text
    assert 'dtq_task_duration_seconds_count{queue="default"} 5' in text
    assert 'dtq_task_pickup_latency_seconds_bucket{queue="default",le="+Inf"} 5' in text
    assert "# TYPE dtq_task_duration_seconds histogram" in text


async def test_browse_a_queue_by_state_with_filters_and_paging(api: httpx.AsyncClient) -> None:
    await api.post("/tasks/bulk", json=[{"task": "a" if n % 2 else "b", "priority": n % 3} for n in range(12)])
    await api.post("/tasks", json={"task": "later", "delay": 600})
    first = (await api.get("/queues/default/tasks", params={"limit": 5})).json()
    assert first["total"] == 12 and len(first["tasks"]) == 5 and first["next_cursor"] == 5
    assert [t["priority"] for t in first["tasks"]] == [2, 2, 2, 2, 1]  # run order: priority, then age
    rest = (await api.get("/queues/default/tasks", params={"limit": 50, "cursor": 5})).json()
    assert len(rest["tasks"]) == 7 and rest["next_cursor"] is None
    only_a = (await api.get("/queues/default/tasks", params={"task": "a", "priority": 1})).json()["tasks"]
    assert {(t["task"], t["priority"]) for t in only_a} == {("a", 1)} and len(only_a) == 2
    scheduled = (await api.get("/queues/default/tasks", params={"state": "scheduled"})).json()
    assert [t["task"] for t in scheduled["tasks"]] == ["later"]
    assert (await api.get("/queues/default/tasks", params={"state": "nope"})).status_code == 422


async def test_stats_count_activity_per_minute(api: httpx.AsyncClient, settings: Settings) -> None:
    await api.post("/tasks/bulk", json=[{"task": "echo"}] * 4 + [{"task": "fail", "max_retries": 0}])
    await dtq.Worker(dtq.App(builtins=True), settings, burst=True).run()
    series = (await api.get("/stats", params={"minutes": 5})).json()["minutes"]
    assert len(series) == 5 and series[-1]["start"].endswith(":00.000Z")
    totals = {k: sum(m[k] for m in series) for k in ("enqueued", "succeeded", "failed", "dead", "processed")}
    assert totals == {"enqueued": 5, "succeeded": 4, "failed": 1, "dead": 1, "processed": 5}


async def test_metrics_show_the_busiest_queues_and_sum_the_rest(make_api, client: Client) -> None:  # type: ignore[no-untyped-def]
    """Twenty queues, two shown: the page's size does not grow with the queues producers name."""
    api = await make_api(api={"metrics_queues": 2})
    for n in range(20):
        await client.enqueue_many([TaskRequest(task=f"t{n % 3}", queue=f"q{n:02d}") for _ in range(n + 1)])
    text = (await api.get("/metrics")).text
    shown = {line.split('queue="')[1].split('"')[0] for line in text.splitlines() if 'queue="' in line}
    assert shown == {"q19", "q18", "_other"}
    assert 'dtq_queue_tasks{queue="_other",state="ready"} 171' in text  # 1 + 2 + ... + 18
    assert 'dtq_tasks_enqueued_total{queue="_other",task="_other"}' in text  # beyond 2 names per queue
    enqueued = [line for line in text.splitlines() if line.startswith("dtq_tasks_enqueued_total{")]
    assert sum(int(line.rsplit(" ", 1)[1]) for line in enqueued) == 210  # nothing lost in the folding
