"""Health, readiness, workers and metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from dtq.errors import RedisUnavailable, UnsafeRedisConfig
from dtq.keys import SHARD_PATTERN
from services.api import prometheus
from services.api.deps import ClientDep, StateDep, Viewer
from services.api.errors import ApiError, responses
from services.api.routes import views
from services.api.schemas import ActivityOut, Health, WorkersOut

router = APIRouter(tags=["system"])


@router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> Response:
    """The process is up (no Redis call)."""
    return views.json({"status": "ok"})


@router.get("/readyz", response_model=Health, responses=responses(503), summary="Readiness")
async def readyz(state: StateDep) -> Response:
    """Redis answers and its maxmemory-policy is noeviction."""
    try:
        info = await state.client.store.check()
    except RedisUnavailable as exc:
        raise ApiError(503, "redis_unavailable", str(exc), headers={"Retry-After": "1"}) from None
    except UnsafeRedisConfig as exc:
        raise ApiError(503, "redis_unsafe", str(exc), headers={"Retry-After": "30"}) from None
    return views.json({"status": "ready", "detail": f"redis {info.version}"})


@router.get(
    "/workers",
    dependencies=[Viewer],
    response_model=WorkersOut,
    responses=responses(401, 403, 429, 503),
    summary="Live workers",
)
async def workers(client: ClientDep) -> Response:
    """Workers with a live heartbeat."""
    return views.json({"workers": [views.worker(w) for w in await client.workers()]})


@router.get(
    "/stats",
    dependencies=[Viewer],
    response_model=ActivityOut,
    responses=responses(401, 403, 422, 429, 503),
    summary="Activity per minute",
)
async def stats(
    client: ClientDep,
    minutes: Annotated[int, Query(ge=1, le=180, description="How many minutes back.")] = 60,
    queue: Annotated[str | None, Query(pattern=SHARD_PATTERN, description="Only this queue.")] = None,
) -> Response:
    """Tasks enqueued, processed, failed... per minute (the core keeps these counters in Redis)."""
    series = await client.activity([queue] if queue else None, minutes)
    return views.json({"minutes": [views.minute(m) for m in series]})


@router.get(
    "/metrics",
    dependencies=[Viewer],
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **responses(401, 403, 429, 503),
    },
    summary="Prometheus metrics",
)
async def metrics(state: StateDep) -> Response:
    """Counters, queue gauges and latency histograms of the whole fleet (per queue for the
    busiest DTQ_API_METRICS_QUEUES queues, the rest summed as queue="_other")."""
    text = await prometheus.render(state.client, state.settings.api.metrics_queues)
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")
