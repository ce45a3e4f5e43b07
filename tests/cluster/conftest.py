"""Fixtures for multi-node Redis: a 3-primary, 3-replica Redis Cluster shared by the session.

Inside `tests/cluster`, `redis_server` is that cluster (it has the same `url`), so every fixture
built on it (`settings`, `client`, `queue`, `make_api`, ...) talks to the cluster unchanged, and
the core's suite can run here a second time. `prefix` deletes its keys on every primary.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.api.conftest import api, make_api, secured
from tests.redis.scripts.conftest import queue
from tests.redis.test_processes import spawn
from tests.redis.test_shards import sharded
from tests.support.redis_cluster import Cluster

# Fixtures of other directories the re-run suite needs, registered here by name.
SHARED_FIXTURES = (api, make_api, secured, queue, spawn, sharded)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three primaries with a replica each, all slots assigned, on loopback."""
    cluster = Cluster(tmp_path_factory.mktemp("cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_server(redis_cluster: Cluster) -> Cluster:
    """The cluster stands in for the single server of the rest of the suite."""
    return redis_cluster


@pytest.fixture
def prefix(redis_cluster: Cluster) -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted from every primary afterwards."""
    name = "t" + secrets.token_hex(5)
    yield name
    with redis_cluster.client() as client:
        keys = list(client.scan_iter(match=f"{name}:*", count=1000))
        for key in keys:
            client.delete(key)
