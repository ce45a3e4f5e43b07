"""The enqueue routes served straight from the ASGI call, past FastAPI's layers.

A measured shortcut. `POST /tasks` is the API's hot path, and its endpoint already parses and
authorizes the request itself (routes/tasks.py), so what FastAPI still did around it per request
(its telemetry check, which reads the environment, the exception and exit-stack middleware, the
router's matching, the route's request handler and dependency solver) was half the API's CPU:
with them, 270 µs of API CPU per request (3,200-3,500 requests/s), without them 135 µs
(6,900-7,200), wrk -c32 against one `dtq api` side by side, load average 1.1-1.8.

A `POST` to one of the enqueue paths (exactly: `/tasks/` still gets the router's redirect) runs
its endpoint with a starlette `Request` as the route would, inside the same layers that matter:
the body limits (the app's `BodySizeLimit`), the app's answers to an `ApiError` or dtq error
(`errors.answer`), and starlette's `ServerErrorMiddleware` with the app's 500 handler. Every other
request goes through FastAPI, including other methods on these paths (405 with `Allow`), and so
does every request when FastAPI's OpenTelemetry instrumentation is on (a provider is configured),
so that a traced deployment keeps its enqueue spans.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from dtq.errors import DtqError
from services.api import errors
from services.api.errors import ApiError

Endpoint = Callable[[Request], Awaitable[Response]]


class Endpoints:
    """ASGI app: the endpoint of the request's path, its dtq and API errors answered."""

    def __init__(self, endpoints: Mapping[str, Endpoint]) -> None:
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.endpoints[scope["path"]](request)
        except (ApiError, DtqError) as exc:
            response = errors.answer(request, exc)
        await response(scope, receive, send)


class ShortcutApi(FastAPI):
    """FastAPI, serving `POST` to the paths given to `shortcut()` directly."""

    _paths: frozenset[str] = frozenset()
    _direct: ASGIApp | None = None
    _traced: bool | None = None

    def shortcut(self, endpoints: Mapping[str, Endpoint], body_limit: Callable[[ASGIApp], ASGIApp]) -> None:
        """Serve `POST` to each path of `endpoints` with that endpoint, inside `body_limit`."""
        self._paths = frozenset(endpoints)
        self._direct = ServerErrorMiddleware(body_limit(Endpoints(endpoints)), handler=errors.unexpected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self._paths:
            if self._traced is None:  # decided at the first request, once start-up configured tracing
                self._traced = _traced(self)
            if self._direct is not None and not self._traced:
                scope["app"] = self
                await self._direct(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _traced(app: FastAPI) -> bool:
    """Whether FastAPI's own OpenTelemetry instrumentation is on for `app`."""
    telemetry = getattr(app, "_native_telemetry", None)  # FastAPI >= 0.160; no public query
    return telemetry is not None and bool(telemetry.enabled())
