"""Turning core objects into response bodies (plain dicts, encoded with orjson)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

from dtq.events import EVENT_NAMES
from dtq.store.activity import Minute
from dtq.store.calls import QueueCounts
from dtq.store.registry import WorkerInfo
from dtq.task import from_ms, rfc3339


def json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response encoded with orjson (skipping FastAPI's slower re-validation)."""
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def queue(name: str, c: QueueCounts) -> dict[str, Any]:
    """QueueOut."""
    return {
        "name": name,
        "ready": c.ready,
        "ready_by_priority": {str(p): n for p, n in enumerate(c.ready_by_priority)},
        "scheduled": c.scheduled,
        "active": c.active,
        "retrying": c.retrying,
        "dead": c.dead,
        "succeeded": c.succeeded,
        "cancelled": c.cancelled,
        "oldest_ready_age": c.oldest_ready_age,
        "paused": c.paused,
    }


def worker(w: WorkerInfo) -> dict[str, Any]:
    """WorkerOut."""

    return {
        "id": w.id,
        "host": w.host,
        "pid": w.pid,
        "queues": w.queues,
        "concurrency": w.concurrency,
        "in_flight": w.in_flight,
        "processed": w.processed,
        "failed": w.failed,
        "state": w.state,
        "started_at": rfc3339(from_ms(round(w.started_at * 1000))) if w.started_at else None,
        "heartbeat_age": round(w.heartbeat_age, 3),
    }


def minute(m: Minute) -> dict[str, Any]:
    """MinuteOut."""
    return {
        "start": rfc3339(from_ms(m.start * 1000)),
        "processed": m.processed,
        **{e: m.counts.get(e, 0) for e in EVENT_NAMES},
    }
