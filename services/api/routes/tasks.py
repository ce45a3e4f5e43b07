"""/tasks: enqueue (single, bulk, scheduled), read and cancel tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import TypeAdapter
from starlette.convertors import Convertor, register_url_convertor

from dtq.keys import SHARD_PATTERN
from dtq.task import MAX_KEY_LENGTH, PreparedTask, public_shape
from services.api import body
from services.api.auth import Principal
from services.api.deps import ENQUEUE, Admin, AnyRole, ApiState, ClientDep, authorize
from services.api.errors import ApiError, responses
from services.api.routes import views
from services.api.schemas import BulkAccepted, CancelOut, ScheduledTaskIn, TaskAccepted, TaskIn, TaskOut

router = APIRouter(prefix="/tasks", tags=["tasks"])

TASK_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
TaskId = Annotated[str, Path(pattern=TASK_ID, description="Task id (UUIDv7).")]


class TaskIdConvertor(Convertor[str]):
    """Matches only task ids, so /tasks/bulk is never read as /tasks/{task_id}."""

    regex = TASK_ID[1:-1]

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("task_id", TaskIdConvertor())
QueueHint = Annotated[str | None, Query(pattern=SHARD_PATTERN, description="Skip the lookup.")]
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Same as the body's key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}

Body = TypeVar("Body", bound=TaskIn)

single = TypeAdapter(TaskIn)
scheduled = TypeAdapter(ScheduledTaskIn)
bulk = TypeAdapter(list[TaskIn])
ENQUEUE_ERRORS = responses(400, 401, 403, 413, 415, 422, 429, 503)


def enqueue_spec(body_schema: str, *, idempotency_header: bool) -> dict[str, Any]:
    """OpenAPI for an enqueue route. These routes parse and authorize the request themselves
    (FastAPI's dependency injection was most of their cost per request), so the document is
    given what the dependencies would have declared: body, header, bearer security."""
    schema = {"$ref": f"#/components/schemas/{body_schema}"}
    spec: dict[str, Any] = {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "security": [{"HTTPBearer": []}],
    }
    if idempotency_header:
        spec["parameters"] = [IDEMPOTENCY_HEADER]
    return spec


async def _state(request: Request) -> tuple[ApiState, Principal]:
    # Deliberate bypass of FastAPI's dependency injection on the three enqueue routes: with it,
    # POST /tasks served 1,340 requests/s, without it 2,400-2,950 (wrk, 32 connections, commit
    # 68400a6); 5,337 today (bench/results/latest.md, http-enqueue). The same authorize() runs.
    state: ApiState = request.app.state.dtq
    return state, await authorize(state, request, ENQUEUE)


def _refuse_other_queues(principal: Principal, prepared: Sequence[PreparedTask], *, bulk: bool) -> None:
    """403 for tasks bound for queues the token's patterns do not allow (after handler defaults
    chose each task's queue)."""
    if principal.queues is None:
        return
    refused = [
        {"field": "queue", "index": index if bulk else None, "message": f"this token may not enqueue to {task.queue}"}
        for index, task in enumerate(prepared)
        if not principal.may_enqueue_to(task.queue)
    ]
    if refused:
        raise ApiError(403, "queue_not_allowed", "this token may not enqueue to these queues", refused[:100])


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
        problem = f"must be 1-{MAX_KEY_LENGTH} characters"
        raise ApiError(
            422, "invalid_request", "the request is not valid", [{"field": "Idempotency-Key", "message": problem}]
        )
    return key


def _refuse_unknown_names(state: ApiState, items: Sequence[TaskIn], *, bulk: bool) -> None:
    """422 for names no handler has, when the API knows the handlers: a task nobody can run
    would only go to the dead-letter queue (and push real failures out of it)."""
    if state.task_names is None:
        return
    unknown = [
        {"field": "task", "index": index if bulk else None, "message": f"no handler is registered for {item.task!r}"}
        for index, item in enumerate(items)
        if item.task not in state.task_names
    ]
    if unknown:
        raise ApiError(422, "unknown_task", "the request names a task no handler is registered for", unknown[:100])


async def _enqueue_one(request: Request, adapter: TypeAdapter[Body]) -> Response:
    state, principal = await _state(request)
    key = _idempotency_key(request)
    document = await body.read_json(request, body.JsonLimits(state.settings.api.max_json_depth))
    item = body.validate(adapter, document)
    _refuse_unknown_names(state, [item], bulk=False)
    prepared = state.client.prepare([item.request(key)])
    _refuse_other_queues(principal, prepared, bulk=False)
    (outcome,) = await state.batcher.store(prepared)
    return views.json({"id": outcome.id, "state": outcome.state.value})


@router.post(
    "",
    response_model=TaskAccepted,
    responses=ENQUEUE_ERRORS,
    openapi_extra=enqueue_spec("TaskIn", idempotency_header=True),
    summary="Enqueue a task",
)
async def enqueue(request: Request) -> Response:
    """Store one task; a repeated idempotency key returns the first task's id and state."""
    return await _enqueue_one(request, single)


@router.post(
    "/schedule",
    response_model=TaskAccepted,
    responses=ENQUEUE_ERRORS,
    openapi_extra=enqueue_spec("ScheduledTaskIn", idempotency_header=True),
    summary="Schedule a task",
)
async def schedule(request: Request) -> Response:
    """Store one task to run at `time` (RFC 3339) or after `delay` seconds."""
    return await _enqueue_one(request, scheduled)


@router.post(
    "/bulk",
    response_model=BulkAccepted,
    responses=ENQUEUE_ERRORS,
    openapi_extra=enqueue_spec("TaskList", idempotency_header=False),
    summary="Enqueue many tasks",
)
async def enqueue_bulk(request: Request) -> Response:
    """Store a JSON array of tasks, all or none (422 names each bad index and field)."""
    state, principal = await _state(request)
    limits = body.JsonLimits(state.settings.api.max_json_depth, state.settings.api.max_bulk_items)
    document = await body.read_json(request, limits)
    items = body.validate(bulk, document)
    _refuse_unknown_names(state, items, bulk=True)
    prepared = state.client.prepare([item.request() for item in items])
    _refuse_other_queues(principal, prepared, bulk=True)
    outcomes = await state.batcher.store(prepared)
    return views.json({"ids": [o.id for o in outcomes]})


#: The routes served by the API's shortcut (services/api/shortcut.py), past FastAPI's router:
#: each takes the Request alone and parses, authorizes and answers it itself.
SHORTCUTS = {"/tasks": enqueue, "/tasks/schedule": schedule, "/tasks/bulk": enqueue_bulk}


@router.get(
    "/{task_id:task_id}",
    dependencies=[AnyRole],
    response_model=TaskOut,
    responses=responses(401, 403, 404, 422, 429, 503),
    summary="Read a task",
)
async def read(task_id: TaskId, client: ClientDep, queue: QueueHint = None) -> Response:
    """The task's full record."""
    return views.json(public_shape(await client.get(task_id, queue)))


@router.delete(
    "/{task_id:task_id}",
    dependencies=[Admin],
    response_model=CancelOut,
    responses=responses(401, 403, 404, 409, 422, 429, 503),
    summary="Cancel a task",
)
async def cancel(task_id: TaskId, client: ClientDep, queue: QueueHint = None) -> Response:
    """Cancel a waiting task, or ask the worker running it to stop (state stays active)."""
    outcome = await client.cancel(task_id, queue)
    return views.json({"id": task_id, "state": outcome.state, "cancel_requested": outcome.state == "active"})
