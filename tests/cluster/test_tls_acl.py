"""TLS and an ACL user with each topology: rediss://, rediss+cluster:// and rediss+sentinel://
(the sentinels with a password of their own), and the errors a wrong credential gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import dtq
from dtq.client import Client
from dtq.errors import RedisUnavailable
from dtq.task import TaskState
from tests.conftest import make_settings
from tests.support.redis_cluster import Cluster, Secure, SentinelGroup
from tests.support.redis_server import RedisServer, free_port
from tests.support.tls import make_certificates


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Secure:
    return Secure(make_certificates(tmp_path_factory.mktemp("certs")))


@pytest.fixture(scope="module")
def secure_server(secure: Secure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tls_port = free_port()
    server = RedisServer(tmp_path_factory.mktemp("tls-server"), extra=secure.node_args(tls_port)).start()
    yield f"rediss://{secure.url_auth()}127.0.0.1:{tls_port}/0{secure.url_query()}"
    server.stop()


async def round_trip(url: str, tmp_path: Path, **redis: object) -> None:
    """Enqueue across queues, work them all with a burst worker, and read the records back."""
    settings = make_settings(url, "sec", tmp_path, redis=redis)
    async with Client(settings) as client:
        ids = [o.id for o in await client.enqueue_many(
            [client.request("echo", n, queue=f"q{n % 4}") for n in range(40)])]  # fmt: skip
        await dtq.Worker(dtq.App(builtins=True), settings, queues=[f"q{n}" for n in range(4)], burst=True).run()
        for task_id in ids[::9]:
            assert (await client.get(task_id)).state is TaskState.SUCCEEDED


async def test_one_server_over_tls_as_an_acl_user(secure_server: str, tmp_path: Path) -> None:
    await round_trip(secure_server, tmp_path)


async def test_a_wrong_password_or_an_unknown_ca_is_refused(secure_server: str, secure: Secure, tmp_path: Path) -> None:
    wrong = secure_server.replace(secure.password, "wrong")
    with pytest.raises(RedisUnavailable, match="invalid username-password"):
        async with Client(make_settings(wrong, "sec", tmp_path)):
            pass
    unverified = secure_server.split("?", maxsplit=1)[0]  # the test CA is not in the system's store
    with pytest.raises(RedisUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        async with Client(make_settings(unverified, "sec", tmp_path)):
            pass


async def test_a_cluster_over_tls_as_an_acl_user(secure: Secure, tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "cluster", secure=secure).start()
    try:
        await round_trip(cluster.url, tmp_path)
    finally:
        cluster.stop()


async def test_sentinel_over_tls_with_passwords_for_servers_and_sentinels(secure: Secure, tmp_path: Path) -> None:
    group = SentinelGroup(tmp_path / "sentinel", secure=secure).start()
    try:
        await round_trip(group.url, tmp_path, sentinel_password=group.SENTINEL_PASSWORD, wait_replicas=1)
        with pytest.raises(RedisUnavailable):
            async with Client(make_settings(group.url, "sec", tmp_path, redis={"connect_timeout": 1.0})):
                pass  # without the sentinels' password no sentinel answers
    finally:
        group.stop()
