"""Reading `dtq enqueue --file`: one JSON task per line, in the REST API's shape."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from dtq.priority import from_flag
from dtq.task import TaskRequest
from services.runtime import fail

FIELDS = {"task", "payload", "queue", "priority", "max_retries", "timeout", "key", "delay", "time"}


def read_requests(path: Path) -> list[TaskRequest]:
    """Every task of the file; exits 2 naming the first bad line and field."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        fail(f"--file: cannot read {path}: {exc}")
    requests = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            requests.append(_request(line, f"{path}:{number}"))
    if not requests:
        fail(f"--file: {path} holds no tasks")
    return requests


def _request(line: bytes, where: str) -> TaskRequest:
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        fail(f"{where}: not valid JSON: {exc}")
    if not isinstance(item, dict):
        fail(f"{where}: each line must be a JSON object")
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        fail(f"{where}: unknown field {', '.join(unknown)}")
    if "task" not in item:
        fail(f"{where}: task: missing")
    priority = item.get("priority")
    if isinstance(priority, bool):  # the original API's true/false
        priority = from_flag(priority)
    return TaskRequest(
        task=item["task"], payload=item.get("payload"), queue=item.get("queue"), priority=priority,
        max_retries=item.get("max_retries"), timeout=item.get("timeout"), key=item.get("key"),
        delay=item.get("delay"), at=_time(item.get("time"), where),
    )  # fmt: skip


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        fail(f"{where}: time: must be an RFC 3339 time with a zone")
    return moment
