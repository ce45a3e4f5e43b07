"""Tokens: who may call what, and the rate limit."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ADMIN_TOKEN, PRODUCER_TOKEN, ApiFactory, bearer

TASK = "01a22191-d487-7000-9389-b07147974026"
PRODUCER_CALLS = [("POST", "/tasks", {"task": "t"}), ("POST", "/tasks/bulk", [{"task": "t"}]),
                  ("POST", "/tasks/schedule", {"task": "t", "delay": 1}), ("GET", f"/tasks/{TASK}", None)]  # fmt: skip
ADMIN_CALLS = [("DELETE", f"/tasks/{TASK}", None), ("GET", "/queues", None), ("GET", "/queues/default", None),
               ("POST", "/queues/default/pause", None), ("POST", "/queues/default/resume", None),
               ("GET", "/dead", None), ("POST", "/dead/retry", None), ("DELETE", "/dead", None),
               ("POST", f"/dead/{TASK}/retry", None), ("GET", "/workers", None), ("GET", "/metrics", None)]  # fmt: skip


async def call(api: httpx.AsyncClient, method: str, path: str, body: object, headers: dict[str, str]) -> int:
    return (await api.request(method, path, json=body, headers=headers)).status_code


@pytest.mark.parametrize(("method", "path", "body"), PRODUCER_CALLS + ADMIN_CALLS)
async def test_no_token_or_a_bad_one_is_401(secured: httpx.AsyncClient, method: str, path: str, body: object) -> None:
    response = await secured.request(method, path, json=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert await call(secured, method, path, body, bearer("wrong-token-0123456789abcdef")) == 401


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
async def test_producers_may_not_administer(secured: httpx.AsyncClient, method: str, path: str, body: object) -> None:
    assert await call(secured, method, path, body, bearer(PRODUCER_TOKEN)) == 403
    assert await call(secured, method, path, body, bearer(ADMIN_TOKEN)) not in (401, 403)


@pytest.mark.parametrize(("method", "path", "body"), PRODUCER_CALLS)
async def test_producers_may_enqueue_and_read(secured: httpx.AsyncClient, method: str, path: str, body: object) -> None:
    assert await call(secured, method, path, body, bearer(PRODUCER_TOKEN)) in (200, 404)


async def test_health_endpoints_need_no_token(secured: httpx.AsyncClient) -> None:
    assert (await secured.get("/healthz")).status_code == 200
    assert (await secured.get("/readyz")).status_code == 200


async def test_rate_limit_answers_429_with_retry_after_per_token(make_api: ApiFactory) -> None:
    api = await make_api(
        api={"tokens": f"{ADMIN_TOKEN}:admin,{PRODUCER_TOKEN}:producer", "rate_limit": 1, "rate_burst": 3}
    )
    codes = [await call(api, "POST", "/tasks", {"task": "t"}, bearer(PRODUCER_TOKEN)) for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    limited = await api.post("/tasks", json={"task": "t"}, headers=bearer(PRODUCER_TOKEN))
    assert int(limited.headers["retry-after"]) >= 1
    assert await call(api, "POST", "/tasks", {"task": "t"}, bearer(ADMIN_TOKEN)) == 200  # its own bucket


async def test_the_openapi_document_declares_bearer_auth_only_when_tokens_exist(
    api: httpx.AsyncClient, secured: httpx.AsyncClient
) -> None:
    assert "securitySchemes" not in (await api.get("/openapi.json")).json()["components"]
    document = (await secured.get("/openapi.json")).json()
    assert "HTTPBearer" in document["components"]["securitySchemes"]
