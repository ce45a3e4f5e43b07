"""Handlers the tests run, in-process and in worker subprocesses (`--app tests.support.apps:app`).

Handlers that record executions write to an oracle outside the queue's own keys: Redis lists
named by the payload's "oracle" key on the server in ORACLE_URL, so a test can count starts and
finishes per task no matter which process ran them.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster

import dtq
from dtq import topology

app = dtq.App(builtins=True)

_oracle: redis.Redis | RedisCluster | None = None
_lock = threading.Lock()


def oracle() -> redis.Redis | RedisCluster:
    global _oracle  # noqa: PLW0603 - one connection pool per worker process
    with _lock:
        if _oracle is None:
            url = os.environ["ORACLE_URL"]
            where = topology.parse(url)
            if where.kind == "cluster":  # the tests/cluster re-run keeps its oracle in the cluster
                _oracle = RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in where.hosts])
            else:
                _oracle = redis.Redis.from_url(url)
        return _oracle


def note(payload: dict[str, Any], event: str, ctx: dtq.TaskContext) -> None:
    oracle().rpush(f"{payload['oracle']}:{event}", f"{ctx.id}|{os.getpid()}|{ctx.attempt}")


@app.task(name="record")
async def record(payload: dict[str, Any], ctx: dtq.TaskContext) -> dict[str, int]:
    """Note the start, sleep (cancellable), note the finish; returns the worker's pid."""
    await asyncio.to_thread(note, payload, "starts", ctx)
    await asyncio.sleep(payload.get("sleep", 0))
    await asyncio.to_thread(note, payload, "finishes", ctx)
    return {"pid": os.getpid()}


@app.task(name="stubborn", timeout=3600)
async def stubborn(payload: dict[str, Any], ctx: dtq.TaskContext) -> None:
    """Note the start, then sleep for `sleep` seconds, swallowing every cancellation on the way."""
    await asyncio.to_thread(note, payload, "starts", ctx)
    until = time.monotonic() + payload.get("sleep", 0)
    while time.monotonic() < until:
        try:
            await asyncio.sleep(until - time.monotonic())
        except asyncio.CancelledError:  # the handler this test is about: it ignores cancellation
            continue


@app.task(name="record_sync")
def record_sync(payload: dict[str, Any], ctx: dtq.TaskContext) -> dict[str, int]:
    """Like `record`, in the thread pool."""
    note(payload, "starts", ctx)
    time.sleep(payload.get("sleep", 0))
    note(payload, "finishes", ctx)
    return {"pid": os.getpid()}


@app.task(name="kill_worker")
def kill_worker(payload: dict[str, Any], ctx: dtq.TaskContext) -> None:
    """A poison task: note the start, then SIGKILL the worker running it."""
    note(payload, "starts", ctx)
    os.kill(os.getpid(), 9)
