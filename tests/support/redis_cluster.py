"""Real multi-node Redis for tests: a Redis Cluster, and a Sentinel-managed primary and replica.

Every node is a `RedisServer` (its own directory, a free loopback port), so a test can kill,
freeze or restart any one of them. Both topologies are built the way an operator builds them:
`redis-cli --cluster create` for the cluster, `replicaof` plus `redis-server --sentinel` for
Sentinel.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.cluster import RedisCluster as SyncCluster

from tests.support.redis_server import RedisServer, free_port
from tests.support.tls import Certificates

SERVICE = "dtq-primary"
# A replica's first full sync starts at once (diskless sync otherwise waits 5 s for more replicas).
FAST_SYNC = ["--repl-diskless-sync-delay", "0"]


@dataclass(frozen=True)
class Secure:
    """TLS for dtq's connections and an ACL user for dtq; each node keeps a plain port for the tests' plumbing."""

    certs: Certificates
    user: str = "dtq"
    password: str = "s3cret-for-tests"

    def node_args(self, tls_port: int) -> list[str]:
        return ["--tls-port", str(tls_port), *self.certs.server_args(),
                "--user", self.user, "on", f">{self.password}", "~*", "&*", "+@all"]  # fmt: skip

    def url_auth(self) -> str:
        return f"{self.user}:{self.password}@"

    def url_query(self) -> str:
        return f"?ssl_ca_certs={self.certs.ca}"


def wait_until(condition: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f}s")
        time.sleep(step)


def free_cluster_port() -> int:
    """A port that is free, and whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        port = random.randrange(20_000, 55_000)
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 10_000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free pair of ports for a cluster node")


def redis_cli() -> str:
    binary = shutil.which("redis-cli")
    if binary is None:
        raise RuntimeError("redis-cli is not installed (apt-get install redis-tools); the cluster tests need it")
    return binary


class Cluster:
    """`masters` primaries with `replicas` replicas each, all slots assigned, on loopback."""

    def __init__(
        self,
        directory: Path,
        *,
        masters: int = 3,
        replicas: int = 1,
        node_timeout_ms: int = 1000,
        secure: Secure | None = None,
        extra: list[str] | None = None,
    ) -> None:
        self.directory = directory
        self.extra = extra or []  # more redis-server options for every node (later ones win)
        self.masters = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.secure = secure
        self.nodes: list[RedisServer] = []
        self.tls_ports: dict[int, int] = {}  # plain port -> TLS port

    @property
    def url(self) -> str:
        """The dtq URL of this cluster: every node as a seed (TLS ports and the ACL user when secure)."""
        if self.secure is None:
            return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        seeds = ",".join(f"127.0.0.1:{self.tls_ports[node.port]}" for node in self.nodes)
        return f"rediss+cluster://{self.secure.url_auth()}{seeds}{self.secure.url_query()}"

    def start(self) -> Cluster:
        for index in range(self.masters * (1 + self.replicas)):
            extra = [
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms),
                # A replica may take over however long ago it last heard from its primary (the
                # default refuses when an idle primary has not pinged it for a while).
                "--cluster-replica-validity-factor", "0",
                *FAST_SYNC,
                "--appendonly", "yes", "--appendfsync", "everysec",
                *self.extra,
            ]  # fmt: skip
            port = free_cluster_port()
            if self.secure is not None:
                self.tls_ports[port] = free_cluster_port()  # with tls-cluster, the bus is this + 10000
                extra += [*self.secure.node_args(self.tls_ports[port]), "--tls-cluster", "yes",
                          "--tls-replication", "yes"]  # fmt: skip
            node = RedisServer(self.directory / f"node{index}", port=port, extra=extra)
            self.nodes.append(node.start())
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run(
            [redis_cli(), "--cluster", "create", *addresses, "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        wait_until(self.is_healthy, 30, "cluster state ok on every node with all replicas attached")
        return self

    def is_healthy(self) -> bool:
        """Every live node says `cluster_state:ok` and every primary has its replicas."""
        for node in self.live_nodes():
            client = redis.Redis(port=node.port, socket_timeout=1)
            try:
                if client.cluster("info").get("cluster_state") != "ok":
                    return False
                role = client.info("replication")
                online = [k for k, v in role.items() if k.startswith("slave") and isinstance(v, dict)
                          and v.get("state") == "online"]  # fmt: skip
                if role["role"] == "master" and len(online) < self.replicas:
                    return False
            finally:
                client.close()
        return True

    def live_nodes(self) -> list[RedisServer]:
        return [node for node in self.nodes if node.process is not None]

    def client(self) -> SyncCluster:
        """A synchronous cluster client for checking the truth from the test process."""
        seed = self.live_nodes()[0]
        return SyncCluster(host="127.0.0.1", port=seed.port, socket_timeout=2)

    def primaries(self) -> list[RedisServer]:
        """The nodes that are primaries right now."""
        return [node for node in self.live_nodes() if _role(node) == "master"]

    def node_of(self, key: str) -> RedisServer:
        """The primary serving `key`'s slot right now."""
        with self.client() as cluster:
            target = cluster.get_node_from_key(key)
            assert target is not None
            return next(node for node in self.nodes if node.port == target.port)

    def wait_promoted(self, killed: RedisServer, timeout: float = 30) -> None:
        """Wait until a replica of `killed` has taken over its slots and the cluster is ok again."""

        def settled() -> bool:
            for node in self.live_nodes():
                client = redis.Redis(port=node.port, socket_timeout=1)
                try:
                    if client.cluster("info").get("cluster_state") != "ok":
                        return False
                    served = {slot[2][1] for slot in client.execute_command("CLUSTER", "SLOTS")}
                    if killed.port in served or self.tls_ports.get(killed.port) in served:
                        return False
                finally:
                    client.close()
            return True

        wait_until(settled, timeout, f"failover of the primary on port {killed.port}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class SentinelGroup:
    """One primary, its replica, and three sentinels watching them (quorum 2).

    With `secure`, dtq reaches the servers and the sentinels over TLS (replication and the
    sentinels' own links use TLS too), as the ACL user, and the sentinels require
    `SENTINEL_PASSWORD`; plain ports stay open for the tests' plumbing.
    """

    SENTINEL_PASSWORD = "sentinel-pw-for-tests"

    def __init__(
        self,
        directory: Path,
        *,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
        secure: Secure | None = None,
    ) -> None:
        self.directory = directory
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.secure = secure
        self.primary: RedisServer | None = None
        self.replica: RedisServer | None = None
        self.sentinels: list[subprocess.Popen[bytes]] = []
        self.sentinel_ports: list[int] = []  # plain ports
        self.tls_ports: dict[int, int] = {}  # plain port -> TLS port, servers and sentinels

    @property
    def url(self) -> str:
        """The dtq URL: every sentinel, then the service name (the sentinel password is a setting)."""
        if self.secure is None:
            return "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports) + f"/{SERVICE}"
        seeds = ",".join(f"127.0.0.1:{self.tls_ports[p]}" for p in self.sentinel_ports)
        return f"rediss+sentinel://{self.secure.url_auth()}{seeds}/{SERVICE}{self.secure.url_query()}"

    @property
    def servers(self) -> list[RedisServer]:
        return [s for s in (self.primary, self.replica) if s is not None]

    def _server(self, name: str, extra: list[str]) -> RedisServer:
        port = free_port()
        args = ["--appendonly", "yes", "--appendfsync", "everysec", *FAST_SYNC, *extra]
        if self.secure is not None:
            self.tls_ports[port] = free_port()
            args += [*self.secure.node_args(self.tls_ports[port]), "--tls-replication", "yes"]
        return RedisServer(self.directory / name, port=port, extra=args).start()

    def _monitored_port(self, server: RedisServer) -> int:
        return self.tls_ports.get(server.port, server.port)

    def start(self) -> SentinelGroup:
        self.primary = self._server("a", [])
        self.replica = self._server("b", ["--replicaof", "127.0.0.1", str(self._monitored_port(self.primary))])
        wait_until(lambda: _link_up(self.replica), 20, "replica in sync")  # type: ignore[arg-type]
        for index in range(3):
            self._start_sentinel(index)
        wait_until(self._sentinels_agree, 30, "three sentinels that see the primary, its replica and each other")
        return self

    def _start_sentinel(self, index: int) -> None:
        assert self.primary is not None
        port = free_port()
        folder = self.directory / f"sentinel{index}"
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "sentinel.conf"
        text = (
            f"port {port}\nbind 127.0.0.1\ndir {folder}\nprotected-mode no\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {self._monitored_port(self.primary)} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}\n"
            f"sentinel failover-timeout {SERVICE} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        if self.secure is not None:
            self.tls_ports[port] = free_port()
            password = self.SENTINEL_PASSWORD
            text += f"tls-port {self.tls_ports[port]}\n{self.secure.certs.config_lines()}tls-replication yes\n"
            text += f"requirepass {password}\nsentinel sentinel-pass {password}\n"
        config.write_text(text)
        log = (folder / "sentinel.log").open("ab")
        binary = shutil.which("redis-server") or "redis-server"
        self.sentinels.append(
            subprocess.Popen([binary, str(config), "--sentinel"], stdout=log, stderr=subprocess.STDOUT)
        )
        self.sentinel_ports.append(port)

    def _sentinel(self, port: int) -> redis.Redis:
        password = self.SENTINEL_PASSWORD if self.secure is not None else None
        return redis.Redis(port=port, socket_timeout=1, decode_responses=True, password=password)

    def _sentinels_agree(self) -> bool:
        for port in self.sentinel_ports:
            with self._sentinel(port) as client:
                state = client.sentinel_master(SERVICE)
                if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                    return False
        return True

    def current_primary(self) -> RedisServer:
        """The server the sentinels name as primary now."""
        with self._sentinel(self.sentinel_ports[0]) as client:
            _, port = client.sentinel_get_master_addr_by_name(SERVICE)
        return next(s for s in self.servers if self._monitored_port(s) == int(port))

    def wait_failover(self, old: RedisServer, timeout: float = 30) -> RedisServer:
        """Wait until the sentinels promote another server than `old`; return it."""
        wait_until(lambda: self.current_primary() is not old and _role(self.current_primary()) == "master",
                   timeout, "sentinel failover")  # fmt: skip
        return self.current_primary()

    def stop(self) -> None:
        for process in self.sentinels:
            process.terminate()
        for process in self.sentinels:
            process.wait(10)
        for server in self.servers:
            server.stop()


def _role(node: RedisServer) -> str:
    client = redis.Redis(port=node.port, socket_timeout=1, decode_responses=True)
    try:
        return str(client.info("replication")["role"])
    except (redis.ConnectionError, redis.TimeoutError):
        return "down"
    finally:
        client.close()


def _link_up(node: RedisServer) -> bool:
    client = redis.Redis(port=node.port, socket_timeout=1, decode_responses=True)
    try:
        return client.info("replication").get("master_link_status") == "up"
    finally:
        client.close()
