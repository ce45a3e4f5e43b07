"""/readyz tells Redis's version, or why Redis is not usable (its address among it), only to a
caller with a valid token or when the API has no tokens; anonymous probes of an API with tokens
get the same status codes with the bare status."""

from __future__ import annotations

from pathlib import Path

import redis

from tests.api.conftest import ADMIN_TOKEN, PRODUCER_TOKEN, TOKENS, VIEWER_TOKEN, ApiFactory, bearer
from tests.support.redis_server import RedisServer

WRONG_TOKEN = "wrong-token-0123456789abcdef"


def redis_version(server: RedisServer) -> str:
    admin = redis.Redis(port=server.port)
    try:
        return str(admin.info("server")["redis_version"])
    finally:
        admin.close()


async def test_details_only_for_a_valid_token_or_from_an_api_without_tokens(
    make_api: ApiFactory, redis_server: RedisServer
) -> None:
    detailed = {"status": "ready", "detail": f"redis {redis_version(redis_server)}"}
    secured = await make_api(api={"tokens": TOKENS})
    for headers in ({}, bearer(WRONG_TOKEN), {"Authorization": "Basic " + ADMIN_TOKEN}):
        response = await secured.get("/readyz", headers=headers)
        assert response.status_code == 200  # probes send no token: never 401
        assert response.json() == {"status": "ready"}, headers
    for token in (ADMIN_TOKEN, PRODUCER_TOKEN, VIEWER_TOKEN):  # any valid token, whatever its role
        assert (await secured.get("/readyz", headers=bearer(token))).json() == detailed
    # Without tokens everyone is an admin, so everyone sees them.
    assert (await (await make_api()).get("/readyz")).json() == detailed


async def test_redis_down_hides_its_address_from_anonymous_callers(make_api: ApiFactory, tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        redis_settings = {"url": server.url, "socket_timeout": 0.5, "connect_timeout": 0.5}
        secured = await make_api(api={"tokens": TOKENS}, redis=redis_settings)
        opened = await make_api(redis=redis_settings)
        server.stop()
        anonymous = await secured.get("/readyz")
        assert anonymous.status_code == 503
        assert anonymous.headers["retry-after"] == "1"
        assert anonymous.json() == {"status": "unavailable"}
        for detailed in (await secured.get("/readyz", headers=bearer(PRODUCER_TOKEN)), await opened.get("/readyz")):
            assert detailed.status_code == 503
            error = detailed.json()["error"]
            assert error["code"] == "redis_unavailable"
            assert str(server.port) in error["message"]  # what anonymous callers must not see
    finally:
        server.stop()


async def test_an_evicting_redis_is_unavailable_without_naming_its_policy(make_api: ApiFactory, tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        secured = await make_api(api={"tokens": TOKENS}, redis={"url": server.url})
        admin = redis.Redis(port=server.port)
        admin.config_set("maxmemory-policy", "allkeys-lru")
        admin.close()
        anonymous = await secured.get("/readyz")
        assert (anonymous.status_code, anonymous.headers["retry-after"]) == (503, "30")
        assert anonymous.json() == {"status": "unavailable"}
        viewer = await secured.get("/readyz", headers=bearer(VIEWER_TOKEN))
        assert viewer.status_code == 503
        assert "allkeys-lru" in viewer.json()["error"]["message"]
    finally:
        server.stop()
