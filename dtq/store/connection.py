"""Connecting to Redis, checking it is safe to use, and translating its errors into dtq's."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias

import redis
import redis.exceptions as rex
import redis.retry
from redis.asyncio import Redis, RedisCluster, Sentinel
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.backoff import ExponentialWithJitterBackoff

from dtq import topology
from dtq.errors import RedisUnavailable, UnsafeRedisConfig
from dtq.settings import RedisSettings

log = logging.getLogger("dtq.redis")

# Every dtq mutation is idempotent (ids are made before the call, transitions check a lease
# token, a claim remembers its batch under its token), so redis-py may safely resend a command
# whose reply was lost.
RETRIES = 3

# What `create_redis` returns: one server or a Sentinel-managed primary (a `Redis` whose pool
# asks the sentinels where the primary is), or a Redis Cluster.
RedisClient: TypeAlias = Redis | RedisCluster


def is_closed_transport(exc: BaseException) -> bool:
    """uvloop raises RuntimeError("... handler is closed") where asyncio raises a connection
    error; redis-py has already dropped the connection by then, so a retry reconnects."""
    return isinstance(exc, RuntimeError) and "closed" in str(exc)


def _options(settings: RedisSettings) -> dict[str, Any]:
    """The connection options every client dtq makes shares (its retry policy is added per kind)."""
    return {
        "username": settings.username,
        "password": settings.password.get_secret_value() if settings.password is not None else None,
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.connect_timeout,
        "max_connections": settings.max_connections,
        "health_check_interval": 30,
        "retry_on_error": [rex.BusyLoadingError, RuntimeError],
    }


def create_redis(settings: RedisSettings) -> RedisClient:
    """A client for `settings.url` (bytes replies; hiredis parses when installed).

    redis-py follows the topology: MOVED/ASK and node failures in a cluster, the sentinels'
    answer after a failover. The URL's own credentials, if it has any, take precedence.
    """
    url = settings.url.get_secret_value()
    where = topology.parse(url)
    common = {**_options(settings), "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), RETRIES)}
    if where.kind == "cluster":
        nodes = [ClusterNode(host, port) for host, port in where.hosts]
        return RedisCluster(startup_nodes=nodes, ssl=where.tls, **{**common, **where.options})
    if where.kind == "sentinel":
        return _sentinel_primary(where, settings, common)
    return Redis.from_url(url, **common)


def create_blocking_redis(settings: RedisSettings) -> redis.Redis | None:
    """A blocking client for a single server (None for a cluster or Sentinel, which only the
    asyncio client follows), with the same options: `SyncClient`'s direct enqueue path."""
    url = settings.url.get_secret_value()
    if topology.parse(url).kind != "server":
        return None
    retry = redis.retry.Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), RETRIES)
    return redis.Redis.from_url(url, **_options(settings), retry=retry)


class SentinelRedis(Redis):
    """The primary of a Sentinel service; closing it also closes the connections to the sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        pool = self.connection_pool
        await super().aclose(close_connection_pool)
        if isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


def _sentinel_primary(where: topology.Topology, settings: RedisSettings, common: dict[str, Any]) -> Redis:
    sentinel_auth = dict(where.sentinel_options)
    if "password" not in sentinel_auth and settings.sentinel_password is not None:
        sentinel_auth["password"] = settings.sentinel_password.get_secret_value()
    tls_options = {k: v for k, v in where.options.items() if k.startswith("ssl_")}
    sentinel_kwargs = {
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.connect_timeout,
        # redis-py's default backs off up to 10 s per sentinel, even on a refused password.
        "retry": common["retry"],
        **({"ssl": True, **tls_options} if where.tls else {}),
        **sentinel_auth,
    }
    sentinels = Sentinel(list(where.hosts), sentinel_kwargs=sentinel_kwargs)
    options = {**common, **where.options, **({"ssl": True} if where.tls else {})}
    primary: Redis = sentinels.master_for(where.service or "", redis_class=SentinelRedis, **options)
    return primary


async def subscriber(redis: RedisClient, attempt: int = 0) -> PubSub:
    """A pub/sub connection for dtq's notifications (classic channels, not sharded ones).

    On a cluster, a classic PUBLISH reaches every node, so any node will do: `attempt` picks
    a different one each time, which also steps around a node that just failed.
    """
    if isinstance(redis, RedisCluster):
        await redis.initialize()
        nodes = redis.get_nodes()
        return redis.pubsub(node=nodes[attempt % len(nodes)], ignore_subscribe_messages=True)
    return redis.pubsub(ignore_subscribe_messages=True)


def spread_start() -> int:
    """A random first attempt for `subscriber`, so processes spread over the cluster's nodes."""
    return random.randrange(1 << 16)  # noqa: S311 - load spreading, not security


# A cluster in the middle of a failover: no primary for a slot yet, or a slot being moved.
CLUSTER_DOWN = (rex.ClusterDownError, rex.TryAgainError, rex.SlotNotCoveredError)


@contextmanager
def redis_errors() -> Iterator[None]:
    """Re-raise Redis failures as `RedisUnavailable`, keeping out-of-memory distinguishable."""
    try:
        yield
    except rex.OutOfMemoryError as exc:
        raise RedisUnavailable(f"Redis is out of memory: {exc}", out_of_memory=True) from exc
    except (rex.ConnectionError, rex.TimeoutError, rex.BusyLoadingError, rex.ReadOnlyError, *CLUSTER_DOWN) as exc:
        raise RedisUnavailable(f"Redis is unavailable: {exc}") from exc
    except rex.RedisClusterException as exc:
        if not isinstance(exc.__cause__, (rex.ConnectionError, rex.TimeoutError)):
            raise  # a misuse (keys of several slots in one command), not an outage
        raise RedisUnavailable(f"Redis Cluster is unreachable: {exc}") from exc
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
    """What dtq learned about the Redis server it talks to (on a cluster: about every primary)."""

    version: str
    eviction_policy: str | None  # on a cluster, the first primary's that is not noeviction, if any
    embedded: bool = False  # the in-memory server of `dtq dev`
    node: str | None = None  # on a cluster, the primary `eviction_policy` was read from


async def inspect_server(redis: RedisClient, embedded_marker: str | None = None) -> ServerInfo:
    """Read the server version and its maxmemory-policy (None if the server will not say).

    On a cluster every primary is read, because any of them may hold any queue. A Sentinel
    primary is read like one server; its replicas should share its configuration.
    `embedded_marker` is the key `dtq dev` sets in its in-memory server; it is only looked at
    when the policy cannot be read.
    """
    with redis_errors():
        if isinstance(redis, RedisCluster):
            await redis.initialize()
            found = [(node, await _read_policy(redis, target_nodes=node)) for node in redis.get_primaries()]
            (node, (version, policy)) = next(((n, read) for n, read in found if read[1] != "noeviction"), found[0])
            return ServerInfo(version=version, eviction_policy=policy, node=node.name)
        version, policy = await _read_policy(redis)
        embedded = policy is None and embedded_marker is not None and bool(await redis.exists(embedded_marker))
    return ServerInfo(version=version, eviction_policy=policy, embedded=embedded)


async def _read_policy(redis: RedisClient, **route: Any) -> tuple[str, str | None]:
    """(version, maxmemory-policy) of one server; `route` picks a cluster node."""
    policy: str | None = None
    version = "unknown"
    try:
        info = await redis.info("server", **route)
        version = str(info.get("redis_version", "unknown"))
        memory = await redis.info("memory", **route)
        policy = memory.get("maxmemory_policy")
    except rex.ResponseError:
        log.debug("INFO is not available on this server")
    if policy is None:
        try:
            reply: dict[Any, Any] = await redis.config_get("maxmemory-policy", **route)
            raw = reply.get(b"maxmemory-policy") or reply.get("maxmemory-policy")
            policy = text(raw) if raw is not None else None
        except rex.ResponseError:
            log.debug("CONFIG GET is not available on this server")
    return version, policy


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
    where = f" on the cluster primary {info.node}" if info.node else ""
    raise UnsafeRedisConfig(
        f"Redis maxmemory-policy is {found}{where}; dtq needs noeviction, because any eviction policy deletes "
        "queued tasks when memory runs out. Run `CONFIG SET maxmemory-policy noeviction` (and put it in "
        "redis.conf), or set DTQ_REDIS_ALLOW_EVICTION=true if you know better."
    )


def text(value: object) -> str:
    """A Redis reply (bytes, as dtq's clients return them) as text."""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
