"""The chaos deployment (`cluster.Cluster`) on replicated Redis: a Redis Cluster or a Sentinel group.

Everything else is as in `cluster.py`: real `dtq api`, `dtq worker` and `dtq scheduler`
processes, the untouched oracle server, the test's own client. Only where Redis is changes, so
the scenarios can kill a primary and watch its replica take over.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import redis

from dtq.client import Client
from dtq.keys import queue_keys
from dtq.settings import Settings
from tests.chaos.cluster import QUEUE, Cluster, Spec
from tests.support.redis_cluster import Cluster as RedisCluster
from tests.support.redis_cluster import SentinelGroup
from tests.support.redis_server import RedisServer


class Replicated(Cluster):
    """`async with Replicated(directory, spec, "cluster" | "sentinel") as deployment`."""

    def __init__(self, directory: Path, spec: Spec, topology: str) -> None:
        super().__init__(directory, spec)
        self.topology = topology
        self.group: RedisCluster | SentinelGroup = (
            RedisCluster(directory / "redis-cluster")
            if topology == "cluster"
            else SentinelGroup(directory / "sentinel")
        )

    async def start_servers(self) -> None:
        await asyncio.to_thread(self.group.start)
        await asyncio.to_thread(self.oracle_server.start)
        self.oracle = redis.Redis.from_url(self.oracle_server.url)
        self.client = Client(self.settings())
        await self.client.connect()
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.api_port}", timeout=10)

    async def __aexit__(self, *exc: object) -> None:
        await super().__aexit__(*exc)
        await asyncio.to_thread(self.group.stop)

    @property
    def redis_url(self) -> str:
        return self.group.url

    def settings(self) -> Settings:
        return Settings(redis={"url": self.group.url, "key_prefix": self.prefix, **self._redis_settings()})  # type: ignore[arg-type]

    def _redis_settings(self) -> dict[str, object]:
        """The spec's DTQ_REDIS_* settings, for the test's own client too."""
        return {k.removeprefix("REDIS_").lower(): v for k, v in self.spec.env.items() if k.startswith("REDIS_")}

    def primary_of_queue(self) -> RedisServer:
        """The primary holding the queue under load (on a cluster, the node of its slot)."""
        if isinstance(self.group, RedisCluster):
            return self.group.node_of(queue_keys(self.prefix, QUEUE).queued)
        return self.group.current_primary()

    def replica_of(self, primary: RedisServer) -> RedisServer:
        """The server replicating `primary` now."""
        with redis.Redis(port=primary.port, socket_timeout=1) as client:
            port = int(client.info("replication")["slave0"]["port"])
        servers = self.group.nodes if isinstance(self.group, RedisCluster) else self.group.servers
        return next(s for s in servers if s.port == port)

    async def wait_taken_over(self, killed: RedisServer) -> None:
        """Until a replica serves what `killed` served."""
        if isinstance(self.group, RedisCluster):
            await asyncio.to_thread(self.group.wait_promoted, killed)
        else:
            await asyncio.to_thread(self.group.wait_failover, killed)
