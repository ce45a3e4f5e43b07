"""Health, readiness, workers and metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from dtq.errors import RedisUnavailable, UnsafeRedisConfig
from dtq.keys import SHARD_PATTERN
from services.api import prometheus
from services.api.deps import ApiState, ClientDep, StateDep, Viewer
from services.api.errors import DESCRIPTIONS, ApiError, responses
from services.api.routes import views
from services.api.schemas import ActivityOut, ErrorOut, Health, WorkersOut

router = APIRouter(tags=["system"])


@router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> Response:
    """The process is up (no Redis call)."""
    return views.json({"status": "ok"})


READYZ_503 = DESCRIPTIONS[503] + ' An anonymous caller of an API with tokens gets only `{"status": "unavailable"}`.'


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": ErrorOut | Health, "description": READYZ_503}},
    summary="Readiness",
)
async def readyz(request: Request, state: StateDep) -> Response:
    """Redis answers and its maxmemory-policy is noeviction. The Redis version, or why Redis is
    not usable (its address among it), only for a valid token or when the API has no tokens."""
    detailed = state.tokens.open or _known_caller(state, request.headers.get("authorization"))
    try:
        info = await state.client.store.check()
    except RedisUnavailable as exc:
        error = ApiError(503, "redis_unavailable", str(exc), headers={"Retry-After": "1"})
    except UnsafeRedisConfig as exc:
        error = ApiError(503, "redis_unsafe", str(exc), headers={"Retry-After": "30"})
    else:
        return views.json({"status": "ready", "detail": f"redis {info.version}"} if detailed else {"status": "ready"})
    if detailed:
        raise error from None
    return views.json({"status": "unavailable"}, error.status, error.headers)


def _known_caller(state: ApiState, authorization: str | None) -> bool:
    """Whether `authorization` carries a configured token. Not `authorize`: probes send no token,
    so a missing or wrong one must not turn readiness into 401, nor a kubelet's polling use up a
    token's rate."""
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip()) and state.tokens.identify(token.strip()) is not None


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
