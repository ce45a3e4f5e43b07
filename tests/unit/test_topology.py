"""DTQ_REDIS_URL for one server, a Redis Cluster and Sentinel: parsing, errors that name the
setting (never the password), and the client each one builds (no I/O: clients connect lazily)."""

from __future__ import annotations

import pytest
import redis.exceptions as rex
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.asyncio.sentinel import SentinelConnectionPool

from dtq import topology
from dtq.errors import ConfigError, RedisUnavailable
from dtq.settings import RedisSettings, Settings
from dtq.store.connection import SentinelRedis, create_redis, redis_errors


def test_one_server_keeps_redis_py_s_own_url_handling() -> None:
    where = topology.parse("rediss://app:pw@cache.internal:6380/3?ssl_cert_reqs=none")
    assert (where.kind, where.tls, where.hosts) == ("server", True, (("cache.internal", 6380),))
    assert where.options == {"username": "app", "password": "pw", "db": 3, "ssl_cert_reqs": "none"}


def test_a_cluster_takes_any_number_of_seeds_with_default_ports() -> None:
    where = topology.parse("rediss+cluster://app:p%40ss@a:7000,b,[::1]:7002?ssl_ca_certs=/ca.pem")
    assert (where.kind, where.tls) == ("cluster", True)
    assert where.hosts == (("a", 7000), ("b", 6379), ("::1", 7002))
    assert where.options == {"username": "app", "password": "p@ss", "ssl_ca_certs": "/ca.pem"}
    assert "p@ss" not in where.describe() and "a:7000" in where.describe()


def test_sentinel_names_its_service_and_keeps_the_sentinels_credentials_apart() -> None:
    where = topology.parse("redis+sentinel://u:pw@s1,s2:5000/orders/2?sentinel_password=spw&sentinel_username=su")
    assert (where.kind, where.tls, where.service) == ("sentinel", False, "orders")
    assert where.hosts == (("s1", 26379), ("s2", 5000))
    assert where.options == {"username": "u", "password": "pw", "db": 2}
    assert where.sentinel_options == {"password": "spw", "username": "su"}


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://a:1", "unknown scheme 'http'"),
        ("localhost:6379", "unknown scheme"),
        ("redis+cluster://", "needs at least one host"),
        ("redis+cluster://a:1/2", "only database 0"),
        ("redis+sentinel://a:1", "needs the service name"),
        ("redis+sentinel://a:1/svc/x", "only a database number"),
        ("redis+cluster://a:notaport", "is not host:port"),
    ],
)
def test_bad_urls_are_errors_that_name_the_setting(url: str, says: str) -> None:
    with pytest.raises(ConfigError, match="DTQ_REDIS_URL") as caught:
        Settings.from_env(redis={"url": url})
    assert says in str(caught.value)


def test_an_error_never_shows_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(redis={"url": "redis+cluster://u:hunter2@a:1/5"})
    assert "hunter2" not in str(caught.value)


def test_each_kind_builds_its_client() -> None:
    server = create_redis(RedisSettings(url="redis://a:1/2", password="pw"))  # type: ignore[arg-type]
    assert isinstance(server, Redis) and server.connection_pool.connection_kwargs["db"] == 2

    cluster = create_redis(RedisSettings(url="redis+cluster://u:pw@a:1,b:2", max_connections=8))  # type: ignore[arg-type]
    assert isinstance(cluster, RedisCluster)
    assert [(n.host, n.port) for n in cluster.nodes_manager.startup_nodes.values()] == [("a", 1), ("b", 2)]
    assert (cluster.connection_kwargs["username"], cluster.connection_kwargs["password"]) == ("u", "pw")

    sentinel = create_redis(
        RedisSettings(url="rediss+sentinel://s1:1,s2:2/orders", password="pw", sentinel_password="spw")  # type: ignore[arg-type]
    )
    assert isinstance(sentinel, SentinelRedis)
    pool = sentinel.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "orders"
    assert pool.connection_kwargs["password"] == "pw"
    assert [s.connection_pool.connection_kwargs["password"] for s in pool.sentinel_manager.sentinels] == ["spw"] * 2
    assert all(s.connection_pool.connection_class is SSLConnection for s in pool.sentinel_manager.sentinels)
    assert issubclass(pool.connection_class, SSLConnection)  # TLS to the sentinels and to the servers


def test_wait_must_fit_in_the_socket_timeout() -> None:
    with pytest.raises(ConfigError, match="DTQ_REDIS_WAIT_TIMEOUT"):
        Settings.from_env(redis={"wait_replicas": 1, "wait_timeout": 5, "socket_timeout": 5})
    assert Settings.from_env(redis={"wait_replicas": 1, "wait_timeout": 0.5}).redis.wait_replicas == 1


@pytest.mark.parametrize(
    "error",
    [rex.ClusterDownError("CLUSTERDOWN The cluster is down"), rex.TryAgainError("TRYAGAIN"),
     rex.SlotNotCoveredError("slot 7 is not covered")],
)  # fmt: skip
def test_a_cluster_in_failover_is_unavailable_not_a_bug(error: Exception) -> None:
    with pytest.raises(RedisUnavailable), redis_errors():
        raise error


def test_an_unreachable_cluster_is_unavailable_but_a_misuse_is_raised_as_it_is() -> None:
    with pytest.raises(RedisUnavailable, match="unreachable"), redis_errors():
        raise rex.RedisClusterException("Redis Cluster cannot be connected") from rex.ConnectionError("refused")
    with pytest.raises(rex.RedisClusterException), redis_errors():
        raise rex.RedisClusterException("EVALSHA - all keys must map to the same key slot")
