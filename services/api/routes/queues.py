"""/queues: counts per state and priority, and pause/resume."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from dtq.errors import TaskNotFound
from dtq.keys import SHARD_PATTERN
from dtq.priority import HIGHEST_PRIORITY, LOWEST_PRIORITY
from dtq.task import TaskState, public_shape
from services.api.deps import Admin, ClientDep, Viewer
from services.api.errors import responses
from services.api.routes import views
from services.api.schemas import QueueOut, QueuesOut, TaskListOut

# Roles per route, not per router: reading is for viewers, pausing for admins.
router = APIRouter(prefix="/queues", tags=["queues"])

QueueName = Annotated[str, Path(pattern=SHARD_PATTERN, description="Queue name.")]


@router.get(
    "",
    dependencies=[Viewer],
    response_model=QueuesOut,
    responses=responses(401, 403, 429, 503),
    summary="List queues",
)
async def list_queues(client: ClientDep) -> Response:
    """Every queue with its counts."""
    stats = await client.all_queue_stats()
    return views.json({"queues": [views.queue(name, counts) for name, counts in stats.items()]})


async def _known(client: ClientDep, name: str) -> None:
    if not await client.knows_queue(name):
        raise TaskNotFound(f"no queue {name}")


@router.get(
    "/{name}",
    dependencies=[Viewer],
    response_model=QueueOut,
    responses=responses(401, 403, 404, 422, 429, 503),
    summary="Read a queue",
)
async def read_queue(name: QueueName, client: ClientDep) -> Response:
    """One queue's counts."""
    await _known(client, name)
    return views.json(views.queue(name, await client.queue_stats(name)))


@router.get(
    "/{name}/tasks",
    dependencies=[Viewer],
    response_model=TaskListOut,
    responses=responses(401, 403, 422, 429, 503),
    summary="List a queue's tasks",
)
async def list_tasks(
    name: QueueName,
    client: ClientDep,
    *,
    state: Annotated[TaskState, Query(description="Which tasks.")] = TaskState.QUEUED,
    task: Annotated[str | None, Query(min_length=1, max_length=256, description="Only this task name.")] = None,
    priority: Annotated[
        int | None, Query(ge=LOWEST_PRIORITY, le=HIGHEST_PRIORITY, description="Only this priority.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[int, Query(ge=0, le=10**9, description="next_cursor of the previous page.")] = 0,
) -> Response:
    """Tasks in one state: waiting ones in the order they will run, finished ones newest first."""
    page = await client.tasks(name, state, task=task, priority=priority, limit=limit, cursor=cursor)
    return views.json({"tasks": [public_shape(t) for t in page.tasks], "total": page.total,
                       "next_cursor": page.next_cursor})  # fmt: skip


@router.post(
    "/{name}/pause",
    dependencies=[Admin],
    response_model=QueueOut,
    responses=responses(401, 403, 422, 429, 503),
    summary="Pause a queue",
)
async def pause(name: QueueName, client: ClientDep) -> Response:
    """Workers stop claiming from the queue; running tasks finish."""
    await client.pause(name)
    return views.json(views.queue(name, await client.queue_stats(name)))


@router.post(
    "/{name}/resume",
    dependencies=[Admin],
    response_model=QueueOut,
    responses=responses(401, 403, 404, 422, 429, 503),
    summary="Resume",
)
async def resume(name: QueueName, client: ClientDep) -> Response:
    """Workers claim from the queue again."""
    await _known(client, name)
    await client.resume(name)
    return views.json(views.queue(name, await client.queue_stats(name)))
