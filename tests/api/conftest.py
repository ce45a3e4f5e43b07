"""The API under test: the real app (lifespan included) over ASGI, on the session's real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import httpx
import pytest

from dtq.settings import Settings
from services.api.app import create_app

ADMIN_TOKEN = "admin-token-0123456789abcdef"
PRODUCER_TOKEN = "producer-token-0123456789abc"
VIEWER_TOKEN = "viewer-token-0123456789abcde"
TOKENS = f"{ADMIN_TOKEN}:admin,{PRODUCER_TOKEN}:producer,{VIEWER_TOKEN}:viewer"

ApiFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def make_api(settings: Settings) -> AsyncIterator[ApiFactory]:
    """Build an API client for `settings` changed by the given sections (e.g. api={...})."""
    async with AsyncExitStack() as stack:

        async def build(base: Settings | None = None, **sections: dict[str, object]) -> httpx.AsyncClient:
            # The built-in tasks (echo, sleep, fail) are what these tests enqueue; with them on,
            # the API applies their defaults (fail: no retries) as a production API with them would.
            chosen = (base or settings).model_copy(update={"builtin_tasks": True})
            app = create_app(chosen.with_changes(**sections))
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            return await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://dtq"))

        yield build


@pytest.fixture
async def api(make_api: ApiFactory) -> httpx.AsyncClient:
    """An open API (no tokens)."""
    return await make_api()


@pytest.fixture
async def secured(make_api: ApiFactory) -> httpx.AsyncClient:
    """An API with an admin, a producer and a viewer token."""
    return await make_api(api={"tokens": TOKENS})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
