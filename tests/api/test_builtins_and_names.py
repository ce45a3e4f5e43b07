"""Built-in tasks are opt-in outside `dtq dev`, `sleep` yields to a cancel, and an API that knows
the handlers refuses names none of them has (issue 13, items 4 and 5)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

import dtq
from dtq.client import Client
from dtq.settings import Settings
from dtq.task import TaskState
from dtq.worker import Worker
from tests.api.conftest import ApiFactory
from tests.redis.scripts.conftest import eventually
from tests.support.processes import dtq_env, start, stop


async def test_a_production_worker_does_not_run_the_builtins(
    client: Client, settings: Settings, prefix: str, tmp_path: Path
) -> None:
    slept = await client.enqueue("sleep", {"seconds": 86_400})
    env = dtq_env(settings.redis.url.get_secret_value(), prefix, tmp_path)
    worker = start(["worker"], env, tmp_path / "worker.log")
    try:
        await eventually(lambda: _state_is(client, slept.id, TaskState.DEAD), timeout=20)
    finally:
        stop(worker)
    assert (await client.get(slept.id)).error.type == "UnknownTask"  # type: ignore[union-attr]


async def test_builtin_tasks_true_turns_them_on(
    client: Client, settings: Settings, prefix: str, tmp_path: Path
) -> None:
    echoed = await client.enqueue("echo", {"hello": "world"})
    env = dtq_env(settings.redis.url.get_secret_value(), prefix, tmp_path, builtin_tasks="true")
    worker = start(["worker"], env, tmp_path / "worker.log")
    try:
        await eventually(lambda: _state_is(client, echoed.id, TaskState.SUCCEEDED), timeout=20)
    finally:
        stop(worker)
    assert (await client.get(echoed.id)).result == {"hello": "world"}


async def test_sleep_ends_when_its_task_is_cancelled(client: Client, settings: Settings) -> None:
    task = await client.enqueue("sleep", {"seconds": 86_400})
    worker = Worker(dtq.App(builtins=True), settings)
    running = asyncio.create_task(worker.run())
    try:
        await eventually(lambda: _state_is(client, task.id, TaskState.ACTIVE), timeout=10)
        assert (await client.cancel(task.id)).state == "active"
        await eventually(lambda: _state_is(client, task.id, TaskState.CANCELLED), timeout=10)
    finally:
        worker.request_stop()
        await asyncio.wait_for(running, 30)


async def test_an_api_that_knows_the_handlers_refuses_other_names(
    make_api: ApiFactory, client: Client, settings: Settings
) -> None:
    api = await make_api(settings.model_copy(update={"app": "tests.support.apps:app"}))
    one = await api.post("/tasks", json={"task": "no-such-task"})
    assert one.status_code == 422 and one.json()["error"]["details"] == [
        {"field": "task", "index": None, "message": "no handler is registered for 'no-such-task'"}
    ]
    many = await api.post("/tasks/bulk", json=[{"task": "record"}, {"task": "junk"}, {"task": "echo"}])
    assert many.status_code == 422
    assert [(d["field"], d["index"]) for d in many.json()["error"]["details"]] == [("task", 1)]
    assert await client.queues() == []  # nothing stored
    assert (await api.post("/tasks", json={"task": "record"})).status_code == 200


async def test_an_api_without_the_handlers_takes_any_name(api: httpx.AsyncClient) -> None:
    assert (await api.post("/tasks", json={"task": "anything-at-all"})).status_code == 200


async def _state_is(client: Client, task_id: str, state: TaskState) -> bool:
    return (await client.get(task_id)).state is state
