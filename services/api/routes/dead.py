"""/dead: the dead-letter queues. List (paged, newest first), redrive, purge."""

from __future__ import annotations

import bisect
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from dtq.client import Client
from dtq.keys import QUEUE_NAME_RULE, SHARD_PATTERN, SHARD_SUFFIX_RULE
from dtq.task import Task, TaskState, public_shape
from services.api.deps import Admin, ClientDep, Viewer
from services.api.errors import ApiError, responses
from services.api.routes import views
from services.api.routes.tasks import TASK_ID
from services.api.schemas import Counted, DeadPageOut, TaskAccepted

# Roles per route, not per router: listing is for viewers, redrive and purge for admins.
router = APIRouter(prefix="/dead", tags=["dead letters"])

QueueFilter = Annotated[str | None, Query(pattern=SHARD_PATTERN, description="Only this queue.")]
TaskFilter = Annotated[str | None, Query(min_length=1, max_length=256, description="Only tasks with this name.")]
CURSOR = rf"^{QUEUE_NAME_RULE}{SHARD_SUFFIX_RULE}\|([0-9]{{1,16}}:[0-9a-f-]{{36}})?$"
Cursor = Annotated[str | None, Query(pattern=CURSOR, description="next_cursor of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=1000)]
SEPARATOR = "|"


async def _queues(client: Client, queue: str | None) -> list[str]:
    return [queue] if queue is not None else await client.queues()


@router.get(
    "",
    dependencies=[Viewer],
    response_model=DeadPageOut,
    responses=responses(401, 403, 422, 429, 503),
    summary="List dead tasks",
)
async def list_dead(
    client: ClientDep, queue: QueueFilter = None, task: TaskFilter = None, cursor: Cursor = None, limit: Limit = 50
) -> Response:
    """Dead tasks, newest first within each queue (queues in name order)."""
    names = await _queues(client, queue)
    start, inner = _split(cursor, names)
    found: list[dict[str, object]] = []
    for position in range(start, len(names)):
        page = await client.dead(names[position], task=task, limit=limit - len(found), cursor=inner)
        found += [public_shape(t) for t in page.tasks]
        if page.next_cursor is not None:
            return views.json({"tasks": found, "next_cursor": f"{names[position]}{SEPARATOR}{page.next_cursor}"})
        inner = None
        if len(found) >= limit and position + 1 < len(names):
            return views.json({"tasks": found, "next_cursor": f"{names[position + 1]}{SEPARATOR}"})
    return views.json({"tasks": found, "next_cursor": None})


def _split(cursor: str | None, names: list[str]) -> tuple[int, str | None]:
    """Where a cursor resumes: the queue it names (or the next one, if that queue is gone)."""
    if cursor is None:
        return 0, None
    queue, _, inner = cursor.partition(SEPARATOR)
    if queue not in names:
        return bisect.bisect_left(names, queue), None
    return names.index(queue), inner or None


@router.post(
    "/{task_id:task_id}/retry",
    dependencies=[Admin],
    response_model=TaskAccepted,
    responses=responses(401, 403, 404, 409, 422, 429, 503),
    summary="Redrive one dead task",
)
async def redrive_one(
    task_id: Annotated[str, Path(pattern=TASK_ID)], client: ClientDep, queue: QueueFilter = None
) -> Response:
    """Requeue a dead task with a fresh set of retries."""
    record = await _dead_task(client, task_id, queue)
    await client.redrive(record.queue, ids=[task_id])
    return views.json({"id": task_id, "state": TaskState.QUEUED.value})


@router.post(
    "/retry",
    dependencies=[Admin],
    response_model=Counted,
    responses=responses(401, 403, 422, 429, 503),
    summary="Redrive dead tasks",
)
async def redrive_many(client: ClientDep, queue: QueueFilter = None, task: TaskFilter = None) -> Response:
    """Requeue every dead task (of `queue`, named `task`, when given)."""
    count = sum([await client.redrive(name, task=task) for name in await _queues(client, queue)])
    return views.json({"count": count})


@router.delete(
    "/{task_id:task_id}",
    dependencies=[Admin],
    response_model=Counted,
    responses=responses(401, 403, 404, 409, 422, 429, 503),
    summary="Purge one dead task",
)
async def purge_one(
    task_id: Annotated[str, Path(pattern=TASK_ID)], client: ClientDep, queue: QueueFilter = None
) -> Response:
    """Delete a dead task for good."""
    record = await _dead_task(client, task_id, queue)
    return views.json({"count": await client.purge_dead(record.queue, ids=[task_id])})


async def _dead_task(client: Client, task_id: str, queue: str | None) -> Task:
    """The task, which must be dead (404 if unknown, 409 naming its state otherwise)."""
    record = await client.get(task_id, queue)
    if record.state is not TaskState.DEAD:
        raise ApiError(409, "not_dead", f"task {task_id} is {record.state.value}, not dead")
    return record


@router.delete(
    "",
    dependencies=[Admin],
    response_model=Counted,
    responses=responses(401, 403, 422, 429, 503),
    summary="Purge dead tasks",
)
async def purge(client: ClientDep, queue: QueueFilter = None, task: TaskFilter = None) -> Response:
    """Delete dead tasks for good (of `queue`, named `task`, when given)."""
    count = sum([await client.purge_dead(name, task=task) for name in await _queues(client, queue)])
    return views.json({"count": count})
