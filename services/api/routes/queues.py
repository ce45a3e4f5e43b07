"""/queues: counts per state and priority, and pause/resume."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from dtq.errors import TaskNotFound
from services.api.deps import Admin, ClientDep
from services.api.errors import responses
from services.api.routes import views
from services.api.schemas import QueueOut, QueuesOut

router = APIRouter(prefix="/queues", tags=["queues"], dependencies=[Admin])

QueueName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Queue name.")]


@router.get("", response_model=QueuesOut, responses=responses(401, 403, 429, 503), summary="List queues")
async def list_queues(client: ClientDep) -> Response:
    """Every queue with its counts."""
    stats = await client.all_queue_stats()
    return views.json({"queues": [views.queue(name, counts) for name, counts in stats.items()]})


async def _known(client: ClientDep, name: str) -> None:
    if name not in await client.queues():
        raise TaskNotFound(f"no queue {name}")


@router.get(
    "/{name}", response_model=QueueOut, responses=responses(401, 403, 404, 422, 429, 503), summary="Read a queue"
)
async def read_queue(name: QueueName, client: ClientDep) -> Response:
    """One queue's counts."""
    await _known(client, name)
    return views.json(views.queue(name, await client.queue_stats(name)))


@router.post(
    "/{name}/pause", response_model=QueueOut, responses=responses(401, 403, 422, 429, 503), summary="Pause a queue"
)
async def pause(name: QueueName, client: ClientDep) -> Response:
    """Workers stop claiming from the queue; running tasks finish."""
    await client.pause(name)
    return views.json(views.queue(name, await client.queue_stats(name)))


@router.post(
    "/{name}/resume", response_model=QueueOut, responses=responses(401, 403, 404, 422, 429, 503), summary="Resume"
)
async def resume(name: QueueName, client: ClientDep) -> Response:
    """Workers claim from the queue again."""
    await _known(client, name)
    await client.resume(name)
    return views.json(views.queue(name, await client.queue_stats(name)))
