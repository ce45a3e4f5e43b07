"""The handler the chaos workers run (`dtq worker --app tests.chaos.handlers:app`).

Every execution writes a start and a finish event to the oracle: a second redis-server
(CHAOS_ORACLE_URL) that no fault ever touches. The payload says what the task does:

    {"ref": "...",          the producer's own name for the task (also its idempotency key)
     "sleep": 0.002,        seconds of work
     "fail": true,          raise, until the oracle's `healed` flag is set
     "poison": true,        SIGKILL the worker running it, until `healed` is set
     "claim_time": true}    also note the claim time Redis recorded for this attempt

Events are JSON objects in the oracle list `events`; `t` is this host's wall clock in ms
(the same clock Redis reads, since everything runs on one machine).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import orjson
import redis.asyncio as aioredis

import dtq
from dtq.keys import queue_keys

EVENTS = "events"
HEALED = "healed"

app = dtq.App(builtins=False)

_clients: dict[str, aioredis.Redis] = {}


def _redis(url_variable: str) -> aioredis.Redis:
    url = os.environ[url_variable]
    if url not in _clients:
        _clients[url] = aioredis.Redis.from_url(url, socket_timeout=5)
    return _clients[url]


async def note(event: str, ref: str, ctx: dtq.TaskContext, **extra: Any) -> None:
    """Append one event to the oracle."""
    record = {
        "e": event, "ref": ref, "id": ctx.id, "pid": os.getpid(), "attempt": ctx.attempt,
        "token": ctx.token, "t": time.time() * 1000, **extra,
    }  # fmt: skip
    await _redis("CHAOS_ORACLE_URL").rpush(EVENTS, orjson.dumps(record))


async def healed() -> bool:
    return bool(await _redis("CHAOS_ORACLE_URL").exists(HEALED))


async def claimed_ms(ctx: dtq.TaskContext) -> int | None:
    """When Redis says this attempt was claimed, by Redis's clock (from the `t:run` column,
    "attempt|started ms|lease token"), or None if that column does not describe this attempt."""
    keys = queue_keys(os.environ["DTQ_REDIS_KEY_PREFIX"], ctx.queue)
    value = await _redis("DTQ_REDIS_URL").hget(keys.column("run"), ctx.id)
    attempt, started, token = (value or b"||").decode().split("|", 2)
    return int(started) if token == ctx.token and attempt == str(ctx.attempt) else None


@app.task(name="chaos", max_retries=3)
async def chaos(payload: dict[str, Any], ctx: dtq.TaskContext) -> None:
    """Note the start, misbehave as asked, work, note the finish."""
    ref = payload["ref"]
    extra = {"claimed": await claimed_ms(ctx)} if payload.get("claim_time") else {}
    await note("start", ref, ctx, **extra)
    if payload.get("poison") and not await healed():
        os.kill(os.getpid(), signal.SIGKILL)
    if payload.get("fail") and not await healed():
        raise RuntimeError(f"{ref} fails on purpose (attempt {ctx.attempt})")
    await asyncio.sleep(payload.get("sleep", 0))
    await note("finish", ref, ctx)
