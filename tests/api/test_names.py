"""Names the API refuses with 422 naming the field: queues a URL cannot carry, task names that break lines."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("queue", [".", ".."])
async def test_a_dot_segment_queue_is_422_naming_queue(api: httpx.AsyncClient, queue: str) -> None:
    response = await api.post("/tasks", json={"task": "echo", "queue": queue})
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == ["queue"], response.text


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x9b"])
async def test_a_task_name_with_a_line_separator_or_c1_control_is_422_naming_task(
    api: httpx.AsyncClient, separator: str
) -> None:
    response = await api.post("/tasks", json={"task": f"echo{separator}forged"})
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == ["task"], response.text


async def test_names_that_look_alike_but_are_fine_are_accepted(api: httpx.AsyncClient) -> None:
    for body in ({"task": "echo", "queue": "..."}, {"task": "echo", "queue": ".hidden"}, {"task": "caf\u00e9 [x]"}):
        assert (await api.post("/tasks", json=body)).is_success, body
