"""The fault proxy itself: each fault does what the scenarios rely on it to do."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.chaos.proxy import Proxy
from tests.support.redis_server import RedisServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    started = RedisServer(tmp_path / "redis").start()
    yield started
    started.stop()


@pytest.fixture
def proxy(server: RedisServer) -> Iterator[Proxy]:
    started = Proxy(server.port).start()
    yield started
    started.stop()


def through(proxy: Proxy, timeout: float = 2.0) -> redis.Redis:
    """A client of the proxy that neither retries nor waits long."""
    return redis.Redis(port=proxy.port, socket_timeout=timeout, socket_connect_timeout=timeout,
                       retry=Retry(NoBackoff(), 0))  # fmt: skip


def test_forwards_both_ways(proxy: Proxy) -> None:
    client = through(proxy)
    assert client.set("k", "v") and client.get("k") == b"v"
    assert proxy.counters.connections == 1


def test_latency_delays_each_round_trip(proxy: Proxy) -> None:
    client = through(proxy)
    client.ping()
    proxy.latency(0.2, 0.05)
    began = time.monotonic()
    for _ in range(3):
        client.ping()
    assert 0.45 <= time.monotonic() - began < 2.0
    proxy.heal()
    began = time.monotonic()
    client.ping()
    assert time.monotonic() - began < 0.1


def test_blackhole_holds_commands_and_delivers_them_when_healed(proxy: Proxy, server: RedisServer) -> None:
    client = through(proxy, timeout=0.3)
    client.ping()
    proxy.blackhole()
    with pytest.raises(redis.TimeoutError):
        client.incr("n")
    direct = redis.Redis(port=server.port)
    assert direct.get("n") is None  # held, not delivered
    proxy.heal()
    deadline = time.monotonic() + 2
    while direct.get("n") is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert direct.get("n") == b"1"  # delivered late: the ambiguous outcome


def test_reset_all_breaks_open_connections(proxy: Proxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as raw:
        raw.sendall(b"PING\r\n")
        assert raw.recv(100) == b"+PONG\r\n"
        assert proxy.reset_all() == 1
        with pytest.raises(ConnectionResetError):
            raw.recv(100)
    assert through(proxy).ping()  # a new connection works


def test_dropped_replies_leave_the_command_applied(proxy: Proxy, server: RedisServer) -> None:
    client = through(proxy, timeout=0.3)
    client.ping()
    proxy.drop_replies()
    with pytest.raises(redis.TimeoutError):
        client.incr("n")
    assert redis.Redis(port=server.port).get("n") == b"1"
    proxy.heal()
    assert client.ping()
    assert proxy.counters.replies_dropped >= 1
