"""POST /tasks, /tasks/bulk, /tasks/schedule, GET and DELETE /tasks/{id}."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import dtq
from dtq.client import Client
from dtq.settings import Settings

ORIGINAL_SINGLE = b'{"priority": true, "task": "high-priority task"}'
ORIGINAL_BULK = b'[{"priority": true, "task": "high-priority task"}, {"priority": false, "task": "low-priority task"}]'
ORIGINAL_SCHEDULE = b'{"priority": false, "task": "later task", "time": "2030-01-01T00:00:00Z"}'
JSON = {"Content-Type": "application/json"}


async def test_the_original_bodies_are_accepted_verbatim(api: httpx.AsyncClient, client: Client) -> None:
    single = await api.post("/tasks", content=ORIGINAL_SINGLE, headers=JSON)
    assert single.status_code == 200
    assert single.json()["state"] == "queued"
    bulk = await api.post("/tasks/bulk", content=ORIGINAL_BULK, headers=JSON)
    assert bulk.status_code == 200 and len(bulk.json()["ids"]) == 2
    later = await api.post("/tasks/schedule", content=ORIGINAL_SCHEDULE, headers=JSON)
    assert later.status_code == 200 and later.json()["state"] == "scheduled"
    records = [await client.get(i) for i in [single.json()["id"], *bulk.json()["ids"], later.json()["id"]]]
    assert [(r.task, r.priority) for r in records] == [
        ("high-priority task", 9),
        ("high-priority task", 9),
        ("low-priority task", 5),
        ("later task", 5),
    ]
    assert records[3].scheduled_for == datetime(2030, 1, 1, tzinfo=UTC)


async def test_original_tasks_succeed_under_a_real_redis(api: httpx.AsyncClient, settings: Settings) -> None:
    ids = [(await api.post("/tasks", content=ORIGINAL_SINGLE, headers=JSON)).json()["id"]]
    ids += (await api.post("/tasks/bulk", content=ORIGINAL_BULK, headers=JSON)).json()["ids"]
    soon = (datetime.now(UTC) + timedelta(seconds=0.3)).isoformat()
    ids.append((await api.post("/tasks/schedule", json={"task": "later task", "time": soon})).json()["id"])
    logging = settings.with_changes(worker={"unknown_tasks": "log"})
    scheduler = dtq.Scheduler(logging)
    sweeping = asyncio.create_task(scheduler.run())

    async def states() -> set[str]:
        return {(await api.get(f"/tasks/{i}")).json()["state"] for i in ids}

    async with asyncio.timeout(20):
        while await states() != {"succeeded"}:
            await dtq.Worker(dtq.App(builtins=True), logging, burst=True).run()
            await asyncio.sleep(0.05)
    scheduler.request_stop()
    await sweeping


async def test_all_options_and_the_full_record(api: httpx.AsyncClient) -> None:
    body = {"task": "echo", "payload": {"a": [1, 2]}, "queue": "mail", "priority": 3, "max_retries": 1,
            "timeout": 2.5, "key": "k-1", "delay": 60}  # fmt: skip
    created = await api.post("/tasks", json=body)
    assert created.status_code == 200
    record = (await api.get(f"/tasks/{created.json()['id']}")).json()
    expected = {"task": "echo", "queue": "mail", "state": "scheduled", "priority": 3, "payload": {"a": [1, 2]},
                "max_retries": 1, "timeout": 2.5, "key": "k-1", "attempts": 0, "result": None,
                "error": None}  # fmt: skip
    assert {k: record[k] for k in expected} == expected
    for field in ("enqueued_at", "scheduled_for"):
        assert datetime.fromisoformat(record[field]).tzinfo is not None and record[field].endswith("Z")


async def test_idempotency_key_in_body_or_header_returns_the_first_task(api: httpx.AsyncClient) -> None:
    first = (await api.post("/tasks", json={"task": "echo", "key": "order-1"})).json()
    again = (
        await api.post("/tasks", json={"task": "echo", "payload": 2}, headers={"Idempotency-Key": "order-1"})
    ).json()
    assert again == first


async def test_bulk_validation_is_all_or_nothing_and_names_each_bad_index(
    api: httpx.AsyncClient, client: Client
) -> None:
    body = [{"task": "ok"}, {"task": "x", "prority": 9}, {"task": "y", "priority": 10}, {"task": ""}]
    response = await api.post("/tasks/bulk", json=body)
    assert response.status_code == 422
    details = {(d["index"], d["field"]) for d in response.json()["error"]["details"]}
    assert details == {(1, "prority"), (2, "priority"), (3, "task")}
    assert await client.queues() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "t", "prority": True}, "prority"),
        ({"task": "t", "priority": "9"}, "priority"),
        ({"task": "t", "queue": "bad queue"}, "queue"),
        ({"task": "t", "delay": -1}, "delay"),
        ({"task": "t", "time": "tomorrow"}, "time"),
        ({"task": "t", "time": "2030-01-01T00:00:00"}, "time"),
        ({"task": "t", "max_retries": 1.5}, "max_retries"),
        ({"priority": True}, "task"),
        ({"task": 7}, "task"),
    ],
)
async def test_bad_fields_are_named(api: httpx.AsyncClient, client: Client, body: object, field: str) -> None:
    response = await api.post("/tasks", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_task" and field in [d["field"] for d in error["details"]]
    assert await client.queues() == []


async def test_schedule_needs_a_time_or_delay(api: httpx.AsyncClient) -> None:
    assert (await api.post("/tasks/schedule", json={"task": "t"})).status_code == 422
    assert (await api.post("/tasks/schedule", json={"task": "t", "delay": 5})).json()["state"] == "scheduled"
    both = await api.post("/tasks/schedule", json={"task": "t", "delay": 5, "time": "2030-01-01T00:00:00Z"})
    assert both.status_code == 422


# What the original server accepted: it decoded the body as JSON whatever the header said, and
# its README's curl lines send none (curl then says application/x-www-form-urlencoded).
CONTENT_TYPES = [None, "application/x-www-form-urlencoded", "text/plain", "application/json; charset=utf-8"]


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize(
    ("path", "document"),
    [("/tasks", ORIGINAL_SINGLE), ("/tasks/bulk", ORIGINAL_BULK), ("/tasks/schedule", ORIGINAL_SCHEDULE)],
)
async def test_the_original_endpoints_read_json_whatever_the_content_type(
    api: httpx.AsyncClient, client: Client, path: str, document: bytes, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await api.post(path, content=document, headers=headers)
    assert response.status_code == 200, response.text
    ids = response.json().get("ids") or [response.json()["id"]]
    assert {(await client.get(i)).task for i in ids} <= {"high-priority task", "low-priority task", "later task"}


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("path", ["/tasks", "/tasks/bulk", "/tasks/schedule"])
async def test_a_body_that_is_not_json_is_400_naming_the_problem(
    api: httpx.AsyncClient, client: Client, path: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    for form in (b"priority=true&task=t", b"", b'{"task": '):
        response = await api.post(path, content=form, headers=headers)
        assert response.status_code == 400, (form, response.text)
        error = response.json()["error"]
        assert error["code"] == "malformed_json" and "not valid JSON" in error["message"]
    assert await client.queues() == []


async def test_malformed_json_and_too_deep(api: httpx.AsyncClient, client: Client) -> None:
    assert (await api.post("/tasks", content=b'{"task": ', headers=JSON)).status_code == 400
    deep: object = "leaf"
    for _ in range(40):
        deep = [deep]
    response = await api.post("/tasks", json={"task": "t", "payload": deep})
    assert response.status_code == 422 and response.json()["error"]["code"] == "too_deep"
    very_deep = b'{"task":"t","payload":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert (await api.post("/tasks", content=very_deep, headers=JSON)).status_code in (400, 422)
    assert await client.queues() == []


async def test_oversized_bodies_get_413_before_they_are_read(api: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks():  # no Content-Length: the limit must be enforced while streaming
        nonlocal sent
        yield b'{"task": "t", "payload": "'
        for _ in range(1000):
            sent += 1
            yield b"x" * 65536
        yield b'"}'

    response = await api.post("/tasks", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert sent < 100  # refused after ~1 MiB of a 64 MiB body
    declared = await api.post("/tasks", content=b"{}", headers={**JSON, "Content-Length": "99999999"})
    assert declared.status_code == 413


async def test_bulk_count_limit(make_api) -> None:  # type: ignore[no-untyped-def]
    api = await make_api(api={"max_bulk_items": 3})
    response = await api.post("/tasks/bulk", json=[{"task": "t"}] * 4)
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_many_tasks"
    assert (await api.post("/tasks/bulk", json=[{"task": "t"}] * 3)).status_code == 200


async def test_read_and_cancel(api: httpx.AsyncClient, settings: Settings) -> None:
    unknown = "01a22191-d487-7000-9389-b07147974026"
    assert (await api.get(f"/tasks/{unknown}")).status_code == 404
    assert (await api.delete(f"/tasks/{unknown}")).status_code == 404
    assert (await api.get("/tasks/not-an-id")).status_code == 404
    wrong_method = await api.get("/tasks/bulk")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    waiting = (await api.post("/tasks", json={"task": "echo", "delay": 60})).json()["id"]
    cancelled = await api.delete(f"/tasks/{waiting}")
    assert cancelled.json() == {"id": waiting, "state": "cancelled", "cancel_requested": False}
    done = (await api.post("/tasks", json={"task": "echo"})).json()["id"]
    await dtq.Worker(dtq.App(builtins=True), settings, burst=True).run()
    conflict = await api.delete(f"/tasks/{done}")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "already_finished"


async def test_a_new_queue_beyond_the_cap_is_429_naming_it(make_api) -> None:  # type: ignore[no-untyped-def]
    api = await make_api(queues={"max": 1})
    assert (await api.post("/tasks", json={"task": "echo", "queue": "first"})).status_code == 200
    refused = await api.post("/tasks/bulk", json=[{"task": "echo", "queue": "first"}, {"task": "echo", "queue": "x"}])
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_queues"
    assert refused.json()["error"]["details"] == [{"field": "queue", "message": "x: no more queues may be created"}]
