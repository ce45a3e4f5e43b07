"""What a JSON body may say, beyond its schema: integers that fit, keys once, UTF-8, RFC 3339
times within ten years; and reads that survive any time already stored (issue 13)."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis.asyncio as aioredis

from dtq.client import Client
from dtq.keys import queue_keys
from dtq.settings import Settings
from tests.support.processes import DTQ, dtq_env


def problem(response: httpx.Response) -> tuple[int, str, list[str]]:
    error = response.json()["error"]
    return response.status_code, error["code"], [d.get("field") for d in error["details"]]


@pytest.mark.parametrize(
    "body",
    [b'{"task": "echo", "payload": 18446744073709551616}', b'[{"task": "echo", "payload": [-9223372036854775809]}]'],
)
async def test_integers_beyond_64_bits_are_refused_not_rounded(api: httpx.AsyncClient, body: bytes) -> None:
    path = "/tasks/bulk" if body.startswith(b"[") else "/tasks"
    response = await api.post(path, content=body)
    assert problem(response)[:2] == (422, "number_out_of_range"), response.text


async def test_the_largest_integers_that_fit_are_kept_exactly(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/tasks", content=b'{"task": "echo", "payload": [18446744073709551615, -9223372036854775808]}'
    )
    assert response.status_code == 200, response.text
    stored = await api.get(f"/tasks/{response.json()['id']}")
    assert stored.json()["payload"] == [18446744073709551615, -9223372036854775808]


async def test_a_duplicate_key_is_refused(api: httpx.AsyncClient, client: Client) -> None:
    response = await api.post("/tasks", content=b'{"task": "echo", "queue": "a", "queue": "b"}')
    assert problem(response)[:2] == (422, "duplicate_key")
    nested = await api.post("/tasks/bulk", content=b'[{"task": "echo", "payload": {"x": 1, "x": 2}}]')
    assert problem(nested)[:2] == (422, "duplicate_key")
    assert await client.queues() == []  # nothing stored


@pytest.mark.parametrize("charset", ["latin-1", "ISO-8859-1", "utf-16"])
async def test_a_charset_other_than_utf8_is_refused(api: httpx.AsyncClient, charset: str) -> None:
    headers = {"Content-Type": f"application/json; charset={charset}"}
    response = await api.post("/tasks", content=b'{"task": "echo"}', headers=headers)
    assert problem(response)[:2] == (415, "unsupported_charset")


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", '"utf-8"', "utf8"])
async def test_utf8_in_any_spelling_is_accepted(api: httpx.AsyncClient, charset: str) -> None:
    headers = {"Content-Type": f"application/json; charset={charset}"}
    assert (await api.post("/tasks", content=b'{"task": "echo"}', headers=headers)).status_code == 200


@pytest.mark.parametrize(
    "time",
    [
        "1700000000",
        "2030-01-01",
        "2030-01-01T00:00:00",
        "2030-01-01 00:00:00Z",
        "9999-12-31T23:59:59-14:00",
        1700000000,
    ],
)
async def test_time_is_rfc3339_and_at_most_ten_years_ahead(api: httpx.AsyncClient, time: object) -> None:
    response = await api.post("/tasks/schedule", json={"task": "echo", "time": time})
    status, _, fields = problem(response)
    assert (status, fields) == (422, ["time"]), response.text


async def test_a_time_seven_years_ahead_is_accepted(api: httpx.AsyncClient) -> None:
    at = (datetime.now(UTC) + timedelta(days=7 * 365)).isoformat()
    assert (await api.post("/tasks/schedule", json={"task": "echo", "time": at})).status_code == 200


async def test_reads_survive_any_stored_due_time(
    api: httpx.AsyncClient, settings: Settings, prefix: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A task stored before times were bounded (or written by anything else) must not break reads:
    `9999-12-31T23:59:59-14:00` made every read of its queue fail with 'year 10000 is out of range'."""
    at = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    task_id = (await api.post("/tasks/schedule", json={"task": "echo", "time": at, "queue": "far"})).json()["id"]
    broken = {"year-10000": b"253402350399000", "huge": b"1e300", "garbage": b"soon"}
    connection = aioredis.Redis.from_url(settings.redis.url.get_secret_value())
    try:
        for name, stored in broken.items():
            await connection.hset(queue_keys(prefix, "far").column("due"), task_id, stored)
            read = await api.get(f"/tasks/{task_id}")
            assert read.status_code == 200, (name, read.text)
            listed = await api.get("/queues/far/tasks", params={"state": "scheduled"})
            assert listed.status_code == 200 and listed.json()["tasks"][0]["id"] == task_id, (name, listed.text)
            env = dtq_env(settings.redis.url.get_secret_value(), prefix, tmp_path)
            status = await asyncio.to_thread(
                subprocess.run,
                [DTQ, "status", task_id, "--json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert status.returncode == 0 and task_id in status.stdout, (name, status.stderr)
        assert read.json()["scheduled_for"] is None  # garbage is shown as unknown, not as a time
    finally:
        await connection.aclose()
