"""Connecting to Redis, checking it is safe to use, and translating its errors into dtq's."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis.exceptions as rex
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from dtq.errors import RedisUnavailable, UnsafeRedisConfig
from dtq.settings import RedisSettings

log = logging.getLogger("dtq.redis")

# Every dtq mutation is idempotent (ids are made before the call, transitions check a lease
# token, a claim remembers its batch under its token), so redis-py may safely resend a command
# whose reply was lost.
RETRIES = 3


def is_closed_transport(exc: BaseException) -> bool:
    """uvloop raises RuntimeError("... handler is closed") where asyncio raises a connection
    error; redis-py has already dropped the connection by then, so a retry reconnects."""
    return isinstance(exc, RuntimeError) and "closed" in str(exc)


def create_redis(settings: RedisSettings) -> Redis:
    """A connection pool for `settings.url` (bytes replies; hiredis parses when installed)."""
    password = settings.password.get_secret_value() if settings.password is not None else None
    return Redis.from_url(
        settings.url.get_secret_value(),
        username=settings.username,  # the URL's own credentials, if it has any, take precedence
        password=password,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.connect_timeout,
        max_connections=settings.max_connections,
        health_check_interval=30,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), RETRIES),
        retry_on_error=[rex.BusyLoadingError, RuntimeError],
    )


@contextmanager
def redis_errors() -> Iterator[None]:
    """Re-raise Redis failures as `RedisUnavailable`, keeping out-of-memory distinguishable."""
    try:
        yield
    except rex.OutOfMemoryError as exc:
        raise RedisUnavailable(f"Redis is out of memory: {exc}", out_of_memory=True) from exc
    except (rex.ConnectionError, rex.TimeoutError, rex.BusyLoadingError, rex.ReadOnlyError) as exc:
        raise RedisUnavailable(f"Redis is unavailable: {exc}") from exc
    except RuntimeError as exc:
        if not is_closed_transport(exc):
            raise
        raise RedisUnavailable(f"Redis connection was reset: {exc}") from exc
    except rex.ResponseError as exc:
        if str(exc).startswith("OOM"):
            raise RedisUnavailable(f"Redis is out of memory: {exc}", out_of_memory=True) from exc
        raise


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What dtq learned about the Redis server it talks to."""

    version: str
    eviction_policy: str | None
    embedded: bool = False  # the in-memory server of `dtq dev`


async def inspect_server(redis: Redis, embedded_marker: str | None = None) -> ServerInfo:
    """Read the server version and its maxmemory-policy (None if the server will not say).

    `embedded_marker` is the key `dtq dev` sets in its in-memory server; it is only looked at
    when the policy cannot be read.
    """
    with redis_errors():
        policy: str | None = None
        version = "unknown"
        try:
            info = await redis.info("server")
            version = str(info.get("redis_version", "unknown"))
            memory = await redis.info("memory")
            policy = memory.get("maxmemory_policy")
        except rex.ResponseError:
            log.debug("INFO is not available on this server")
        if policy is None:
            try:
                reply: dict[Any, Any] = await redis.config_get("maxmemory-policy")
                raw = reply.get(b"maxmemory-policy") or reply.get("maxmemory-policy")
                policy = text(raw) if raw is not None else None
            except rex.ResponseError:
                log.debug("CONFIG GET is not available on this server")
        embedded = policy is None and embedded_marker is not None and bool(await redis.exists(embedded_marker))
    return ServerInfo(version=version, eviction_policy=policy, embedded=embedded)


def check_eviction_policy(info: ServerInfo, settings: RedisSettings) -> None:
    """Refuse a Redis that may evict keys: an eviction policy silently deletes tasks."""
    if info.eviction_policy == "noeviction":
        return
    if info.embedded:
        log.info("using the in-memory Redis of `dtq dev` (nothing is kept when it stops)")
        return
    if settings.allow_eviction:
        log.warning(
            "Redis maxmemory-policy is %s, not noeviction; continuing because DTQ_REDIS_ALLOW_EVICTION is set",
            info.eviction_policy or "unreadable",
        )
        return
    found = info.eviction_policy or "unreadable (CONFIG GET and INFO were refused)"
    raise UnsafeRedisConfig(
        f"Redis maxmemory-policy is {found}; dtq needs noeviction, because any eviction policy deletes "
        "queued tasks when memory runs out. Run `CONFIG SET maxmemory-policy noeviction` (and put it in "
        "redis.conf), or set DTQ_REDIS_ALLOW_EVICTION=true if you know better."
    )


def text(value: object) -> str:
    """A Redis reply (bytes, as dtq's clients return them) as text."""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
