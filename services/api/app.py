"""`create_app(settings)`: the FastAPI application. Building it does no I/O; the lifespan
connects to Redis (and refuses to start if Redis may evict keys)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp

from dtq.client import Client
from dtq.errors import RedisUnavailable
from dtq.registry import App, load_handlers
from dtq.settings import Settings
from services.api import errors, ui
from services.api.auth import Tokens
from services.api.batching import EnqueueBatcher
from services.api.deps import ApiState
from services.api.limits import BodySizeLimit
from services.api.ratelimit import RateLimits
from services.api.routes import dead, queues, system, tasks
from services.api.schemas import JSON_VALUE, JSON_VALUE_REF, PAYLOAD_DESCRIPTION, ScheduledTaskIn, TaskIn
from services.api.shortcut import ShortcutApi

log = logging.getLogger("dtq.api")

DESCRIPTION = """Submit tasks to dtq from any language, and inspect and manage queues.

The original API is valid as it was: `POST /tasks` `{"priority": true, "task": "..."}`,
`POST /tasks/bulk` (an array of those) and `POST /tasks/schedule` (with `"time"`, RFC 3339)."""


def create_app(settings: Settings, *, client: Client | None = None, registry: App | None = None) -> FastAPI:
    """The API for `settings`; pass `client` to share one (tests), `registry` for handler defaults."""
    tokens = Tokens.from_settings(settings.api)

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        handlers = registry or load_handlers(settings.app, builtins=settings.builtin_tasks)
        shared = client or Client(settings, app=handlers)
        try:
            await shared.connect()
        except RedisUnavailable as exc:
            log.warning("Redis is not reachable yet (%s); /readyz answers 503 until it is", exc)
        if tokens.open:
            log.warning("no API tokens configured (DTQ_API_TOKENS): the API is open to anyone who can reach it")
        limits = RateLimits(shared.store, settings.api, open_api=tokens.open)
        log.info("%s", limits.describe())
        names = frozenset(handlers.names()) if settings.app else None
        api.state.dtq = ApiState(settings, shared, EnqueueBatcher(shared), tokens, limits, names)
        try:
            yield
        finally:
            if client is None:
                await shared.close()

    api = ShortcutApi(
        title="dtq",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # services/api/ui/docs.py serves /docs from the package, not a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    routers = (tasks.router, queues.router, dead.router, system.router, ui.router)
    errors.install(api, errors.MethodTable(routers))

    def body_limit(app: ASGIApp) -> ASGIApp:
        limits = settings.api
        return BodySizeLimit(
            app, limit=limits.max_body_bytes, bulk_limit=limits.max_bulk_body_bytes, bulk_path="/tasks/bulk"
        )

    api.add_middleware(body_limit)
    api.shortcut(tasks.SHORTCUTS, body_limit)
    for router in routers:
        api.include_router(router)
    _document_bodies(api, secured=not tokens.open)
    return api


def _document_bodies(api: FastAPI, *, secured: bool) -> None:
    """Add the request-body schemas (the routes parse bodies themselves) and, when tokens are
    configured, the bearer security requirement, to the generated OpenAPI document.

    A deliberate patch: the enqueue routes bypass dependency injection, which took POST /tasks
    from 1,340 to 2,400-2,950 requests/s (see routes/tasks.py), so FastAPI cannot see them."""
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is not None:
            return api.openapi_schema
        document = generate()
        _, defs = models_json_schema(
            [(TaskIn, "validation"), (ScheduledTaskIn, "validation")], ref_template="#/components/schemas/{model}"
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(defs.get("$defs", {}))
        schemas["JsonValue"] = JSON_VALUE
        for model in ("TaskIn", "ScheduledTaskIn"):
            schemas[model]["properties"]["payload"] = {**JSON_VALUE_REF, "description": PAYLOAD_DESCRIPTION}
        schemas["TaskList"] = TypeAdapter(list[TaskIn]).json_schema(ref_template="#/components/schemas/{model}")
        read_link = {
            "ReadTask": {"operationId": "read_tasks__task_id__get", "parameters": {"task_id": "$response.body#/id"}}
        }
        for path in ("/tasks", "/tasks/schedule"):
            document["paths"][path]["post"]["responses"]["200"]["links"] = read_link
        if not secured:
            document["components"].pop("securitySchemes", None)
            for operations in document["paths"].values():
                for operation in operations.values():
                    operation.pop("security", None)
        api.openapi_schema = document
        return document

    api.openapi = openapi  # type: ignore[method-assign]
