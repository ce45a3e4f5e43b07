"""When Redis goes away the API answers 503 with Retry-After (never 500) and recovers after."""

from __future__ import annotations

from pathlib import Path

import redis

from dtq.settings import Settings
from tests.api.conftest import ApiFactory
from tests.support.redis_server import RedisServer


async def test_503_while_redis_is_down_then_recovery(make_api: ApiFactory, tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        api = await make_api(redis={"url": server.url, "socket_timeout": 0.5, "connect_timeout": 0.5})
        assert (await api.post("/tasks", json={"task": "t"})).status_code == 200
        server.stop()
        calls = [("POST", "/tasks", {"task": "t"}), ("POST", "/tasks/bulk", [{"task": "t"}]),
                 ("GET", "/queues", None), ("GET", "/metrics", None), ("GET", "/readyz", None)]  # fmt: skip
        for method, path, body in calls:
            response = await api.request(method, path, json=body)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["retry-after"] == "1"
            assert response.json()["error"]["code"] == "redis_unavailable"
        assert (await api.get("/healthz")).status_code == 200
        server.start()  # same port, empty data
        assert (await api.get("/readyz")).status_code == 200
        assert (await api.post("/tasks", json={"task": "t"})).status_code == 200
    finally:
        server.stop()


async def test_out_of_memory_is_503_and_stores_nothing(
    make_api: ApiFactory, settings: Settings, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        api = await make_api(redis={"url": server.url})
        admin = redis.Redis(port=server.port)
        # One request first: the scripts and the connections it makes take memory of their own.
        assert (await api.post("/tasks", json={"task": "t"})).status_code == 200
        used = admin.info("memory")["used_memory"]
        admin.config_set("maxmemory", used + 200_000)
        big = "x" * 50_000
        codes = [(await api.post("/tasks", json={"task": "t", "payload": big})).status_code for _ in range(20)]
        assert codes[0] == 200 and codes[-1] == 503
        refused = await api.post("/tasks", json={"task": "t", "payload": big})
        assert refused.json()["error"]["code"] == "redis_out_of_memory"
        stored = 1 + sum(code == 200 for code in codes)
        prefix = settings.redis.key_prefix
        assert admin.hlen(f"{prefix}:{{default}}:t:task") == stored  # nothing half-written
        assert admin.llen(f"{prefix}:{{default}}:queued:5") == stored
        admin.config_set("maxmemory", 0)
        assert (await api.post("/tasks", json={"task": "t"})).status_code == 200
        admin.close()
    finally:
        server.stop()


async def test_a_bulk_at_the_memory_edge_stores_all_or_none(
    make_api: ApiFactory, settings: Settings, tmp_path: Path
) -> None:
    """10,000 tasks when Redis has room for about a third of them: 503 and nothing stored (it
    answered 503 after storing the first chunks of 2,000, so a client's retry duplicated them)."""
    server = RedisServer(tmp_path / "redis").start()
    admin = redis.Redis(port=server.port)
    try:
        api = await make_api(redis={"url": server.url})
        assert (await api.post("/tasks", json={"task": "t"})).status_code == 200
        admin.config_set("maxmemory", admin.info("memory")["used_memory"] + 3 * 1024 * 1024)
        items = [{"task": "t", "queue": "bulk", "payload": "x" * 300} for _ in range(10_000)]
        refused = await api.post("/tasks/bulk", json=items)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "redis_out_of_memory"
        prefix = settings.redis.key_prefix
        assert admin.hlen(f"{prefix}:{{bulk}}:t:task") == 0
        assert admin.llen(f"{prefix}:{{bulk}}:queued:5") == 0
        fits = await api.post("/tasks/bulk", json=items[:1000])  # what fits still goes in
        assert fits.status_code == 200 and admin.llen(f"{prefix}:{{bulk}}:queued:5") == 1000
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()
        server.stop()
