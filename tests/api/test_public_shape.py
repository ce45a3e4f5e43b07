"""The task's public shape has one home (dtq.task.public_shape); every reader agrees with it.

The REST API's body, its OpenAPI schema (TaskOut), `dtq status --json` and the dashboard's
TypeScript interface are each checked against a real task read back from the real Redis.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import httpx
import orjson
from pydantic import BaseModel

import dtq
from dtq.client import Client
from dtq.settings import Settings
from dtq.task import public_shape
from services.api.schemas import TaskErrorOut, TaskOut
from tests.support.processes import DTQ, ROOT, dtq_env


async def finished_tasks(client: Client, settings: Settings) -> list[str]:
    """A succeeded task with a result and a dead one with an error, run by a real worker."""
    done = await client.enqueue("echo", {"n": [1, 2]}, key="shape-once")
    dead = await client.enqueue("fail", {"message": "no"}, max_retries=0, priority=8)
    await dtq.Worker(dtq.App(builtins=True), settings, burst=True).run()
    return [done.id, dead.id]


async def test_the_api_and_the_cli_give_the_same_shape(
    api: httpx.AsyncClient, client: Client, settings: Settings, tmp_path: Path
) -> None:
    env = dtq_env(settings.redis.url.get_secret_value(), settings.redis.key_prefix, tmp_path)
    for task_id in await finished_tasks(client, settings):
        body = (await api.get(f"/tasks/{task_id}")).json()
        assert body == orjson.loads(orjson.dumps(public_shape(await client.get(task_id))))
        command = [DTQ, "status", task_id, "--json"]
        shown = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, timeout=30, check=True)
        assert orjson.loads(shown.stdout) == body
        assert TaskOut.model_validate(body).model_dump() == body  # the schema describes exactly this


async def test_the_schema_names_every_field_of_the_shape(client: Client, settings: Settings) -> None:
    for task_id in await finished_tasks(client, settings):
        shape = public_shape(await client.get(task_id))
        assert list(shape) == list(TaskOut.model_fields)
        if shape["error"] is not None:
            assert list(shape["error"]) == list(TaskErrorOut.model_fields)


def typescript_fields(interface: str) -> list[str]:
    source = (ROOT / "ui" / "src" / "api.ts").read_text()
    body = re.search(rf"export interface {interface} \{{(.*?)\n\}}", source, re.DOTALL)
    assert body, f"ui/src/api.ts has no interface {interface}"
    return re.findall(r"^\s+(\w+)\??:", body.group(1), re.MULTILINE)


def test_the_dashboard_reads_the_same_fields() -> None:
    models: dict[str, type[BaseModel]] = {"Task": TaskOut, "TaskError": TaskErrorOut}
    for interface, model in models.items():
        assert typescript_fields(interface) == list(model.model_fields), interface
