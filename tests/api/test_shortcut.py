"""The enqueue routes' shortcut (services/api/shortcut.py) answers exactly as FastAPI's router
would, and steps aside where it must: other methods and paths, and a traced deployment."""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.requests import Request

from dtq.settings import Settings
from services.api.app import create_app
from services.api.routes import tasks
from services.api.shortcut import ShortcutApi
from tests.api.conftest import PRODUCER_TOKEN, TOKENS, VIEWER_TOKEN, bearer

UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ITEM = b'{"priority": true, "task": "high-priority task"}'
Build = Callable[..., Awaitable[tuple[ShortcutApi, httpx.AsyncClient]]]

#: (path, body, headers): the original API's body with and without Content-Type, and each refusal.
REQUESTS: list[tuple[str, bytes, dict[str, str]]] = [
    ("/tasks", ITEM, {"Content-Type": "application/json"}),
    ("/tasks", ITEM, {}),
    ("/tasks?x=1", ITEM, {"Content-Type": "application/x-www-form-urlencoded"}),
    ("/tasks", ITEM, {"Content-Type": "application/json; charset=latin-1"}),
    ("/tasks", b'{"task": ', {}),
    ("/tasks", b"", {}),
    ("/tasks", b'{"task": "a", "task": "b"}', {}),
    ("/tasks", b'{"task": "a", "payload": 18446744073709551616}', {}),
    ("/tasks", b'{"task": "a", "priority": 42}', {}),
    ("/tasks", b'{"task": "a", "prority": 1}', {}),
    ("/tasks", b'{"payload": 1}', {}),
    ("/tasks", b'{"task": "a", "payload": ' + b"[" * 40 + b"]" * 40 + b"}", {}),
    ("/tasks", b'{"task": "a", "queue": ".."}', {}),
    ("/tasks", b'{"task": "a", "payload": "' + b"x" * 1_100_000 + b'"}', {}),
    ("/tasks", ITEM, {"Idempotency-Key": "once"}),
    ("/tasks", ITEM, {"Idempotency-Key": "once"}),
    ("/tasks", ITEM, {"Idempotency-Key": "k" * 300}),
    ("/tasks/schedule", b'{"task": "a", "delay": 5}', {}),
    ("/tasks/schedule", b'{"task": "a"}', {}),
    ("/tasks/bulk", b"[" + ITEM + b"," + ITEM + b"]", {}),
    ("/tasks/bulk", b'[{"task": "a"}, {"task": 1}]', {}),
    ("/tasks/", ITEM, {}),
    ("/TASKS", ITEM, {}),
]
SECURED: list[tuple[str, bytes, dict[str, str]]] = [
    ("/tasks", ITEM, bearer(PRODUCER_TOKEN)),
    ("/tasks", ITEM, bearer(VIEWER_TOKEN)),
    ("/tasks", ITEM, {}),
    ("/tasks", ITEM, {"Authorization": "Basic abc"}),
    ("/tasks", ITEM, bearer("not-a-token-of-this-api")),
]


@pytest.fixture
async def build(settings: Settings) -> AsyncIterator[Build]:
    """An app and a client for it; `routed=True`: with the shortcut off (everything via FastAPI)."""
    async with AsyncExitStack() as stack:

        async def make(*, routed: bool = False, **sections: dict[str, object]) -> tuple[ShortcutApi, httpx.AsyncClient]:
            app = create_app(settings.with_changes(**sections))
            assert isinstance(app, ShortcutApi)
            if routed:
                app._traced = True  # what a configured OpenTelemetry provider makes of it
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            client = httpx.AsyncClient(transport=transport, base_url="http://dtq")
            return app, await stack.enter_async_context(client)

        yield make


async def answers(client: httpx.AsyncClient, requests: list[tuple[str, bytes, dict[str, str]]]) -> list[object]:
    """Status, headers and body of each answer, task ids numbered in order of appearance (so a
    repeated idempotency key shows as the same number)."""
    ids: dict[bytes, int] = {}

    def number(text: bytes) -> bytes:
        return UUID.sub(lambda m: b"<id%d>" % ids.setdefault(m.group(), len(ids)), text)

    seen: list[object] = []
    for path, body, headers in requests:
        response = await client.post(path, content=body, headers=headers)
        raw = [(name, number(value)) for name, value in response.headers.raw]
        seen.append((response.status_code, raw, number(response.content)))
    return seen


async def test_the_shortcut_answers_byte_for_byte_as_the_router(build: Build) -> None:
    shortcut_app, shortcut = await build()
    _, routed = await build(routed=True)  # the same keys: the repeated idempotency key finds the first task
    assert await answers(shortcut, REQUESTS) == await answers(routed, REQUESTS)
    assert shortcut_app.middleware_stack is not None  # built by /tasks/ and /TASKS, which it left alone


async def test_with_tokens_too(build: Build) -> None:
    _, shortcut = await build(api={"tokens": TOKENS})
    _, routed = await build(routed=True, api={"tokens": TOKENS})
    assert await answers(shortcut, SECURED) == await answers(routed, SECURED)


async def test_the_enqueue_routes_skip_fastapi_and_others_do_not(build: Build) -> None:
    app, client = await build()
    for path in tasks.SHORTCUTS:
        await client.post(path, content=b'{"task": "a", "delay": 1}')
    assert app.middleware_stack is None  # FastAPI builds its stack at the first request it serves
    assert (await client.get("/tasks")).status_code == 405
    assert app.middleware_stack is not None


async def test_a_traced_api_keeps_fastapi_on_the_enqueue_routes(build: Build) -> None:
    app, client = await build(routed=True)
    assert (await client.post("/tasks", content=ITEM)).status_code == 200
    assert app.middleware_stack is not None


async def test_an_unexpected_error_is_a_logged_500(build: Build, caplog: pytest.LogCaptureFixture) -> None:
    app, client = await build()

    async def broken(_tasks: object) -> None:
        raise RuntimeError("boom")

    app.state.dtq.batcher.store = broken
    response = await client.post("/tasks", content=ITEM)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "unexpected error in POST /tasks" in caplog.text


def test_each_shortcut_is_a_route_that_takes_only_the_request() -> None:
    routes = {route.path: route for route in tasks.router.routes if isinstance(route, APIRoute)}
    for path, endpoint in tasks.SHORTCUTS.items():
        route = routes[path]
        assert route.endpoint is endpoint and route.methods == {"POST"}
        assert not route.dependencies and not route.dependant.dependencies  # nothing to solve, so nothing skipped
        assert [p.annotation for p in inspect.signature(endpoint).parameters.values()] in ([Request], ["Request"])
