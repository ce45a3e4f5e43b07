"""Shared fixtures: one real redis-server per test session, and a fresh key prefix per test.

Tests never flush the server: each gets its own prefix and deletes only its own keys.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from dtq.client import Client
from dtq.settings import Settings
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of the test session's own, on a free port."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def prefix(redis_server: RedisServer) -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    name = "t" + secrets.token_hex(5)
    yield name
    client = redis.Redis.from_url(redis_server.url)
    try:
        keys = list(client.scan_iter(match=f"{name}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


def make_settings(redis_url: str, prefix: str, tmp_path: Path, **sections: dict[str, object]) -> Settings:
    """Settings for tests: short timings so recovery paths finish in well under a second."""
    base: dict[str, dict[str, object]] = {
        "redis": {"url": redis_url, "key_prefix": prefix},
        "worker": {"lease": 2.0, "heartbeat_interval": 0.5, "idle_poll": 0.2, "shutdown_grace": 2.0,
                   "health_file": str(tmp_path / "worker.health")},
        "scheduler": {"poll_interval": 0.2, "janitor_interval": 0.2, "queue_refresh": 0.2,
                      "health_file": str(tmp_path / "scheduler.health")},
        "tasks": {"backoff_base": 0.05, "backoff_max": 0.2},
    }  # fmt: skip
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return Settings(**base)  # type: ignore[arg-type]


def tuned(settings: Settings, **sections: dict[str, object]) -> Settings:
    """A copy of `settings` with some fields of some sections changed (validated)."""
    return settings.with_changes(**sections)


@pytest.fixture
def settings(redis_server: RedisServer, prefix: str, tmp_path: Path) -> Settings:
    """Test settings pointing at the session's Redis under this test's prefix."""
    return make_settings(redis_server.url, prefix, tmp_path)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    """A connected client."""
    async with Client(settings) as connected:
        yield connected
