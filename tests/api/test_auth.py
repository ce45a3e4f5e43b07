"""Tokens: who may call what, and the rate limit."""

from __future__ import annotations

from dataclasses import dataclass, replace

import httpx
import pytest

import dtq
from dtq.client import Client
from dtq.errors import ConfigError
from dtq.settings import Settings
from services.api.auth import Tokens
from tests.api.conftest import ADMIN_TOKEN, PRODUCER_TOKEN, VIEWER_TOKEN, ApiFactory, bearer
from tests.conftest import tuned

UNKNOWN = "01a22191-d487-7000-9389-b07147974026"
TOKEN_OF = {"producer": PRODUCER_TOKEN, "viewer": VIEWER_TOKEN, "admin": ADMIN_TOKEN}


@dataclass(frozen=True)
class Call:
    """One request. `path` is spelt as in the OpenAPI document; `{name}` is queue `default` and
    `{task_id}` the seeded task `target` names ("waiting" or "dead")."""

    method: str
    path: str
    body: object = None
    target: str = "waiting"

    def url(self, seeded: dict[str, str]) -> str:
        return self.path.format(name="default", task_id=seeded[self.target])


@dataclass(frozen=True)
class Family:
    """Endpoints one set of roles may call; the others get 403 with `denied`."""

    calls: tuple[Call, ...]
    roles: frozenset[str]
    denied: str = ""


ENQUEUE = Family(
    (Call("POST", "/tasks", {"task": "t"}), Call("POST", "/tasks/bulk", [{"task": "t"}]),
     Call("POST", "/tasks/schedule", {"task": "t", "delay": 1})),
    frozenset({"producer", "admin"}), "this needs a producer or admin token",
)  # fmt: skip
READ_ONE = Family((Call("GET", "/tasks/{task_id}"), Call("GET", "/ui/whoami")), frozenset(TOKEN_OF))
BROWSE = Family(
    (Call("GET", "/queues"), Call("GET", "/queues/{name}"), Call("GET", "/queues/{name}/tasks"),
     Call("GET", "/dead"), Call("GET", "/workers"), Call("GET", "/stats"), Call("GET", "/metrics")),
    frozenset({"viewer", "admin"}), "this needs a viewer or admin token",
)  # fmt: skip
MANAGE = Family(
    (Call("DELETE", "/tasks/{task_id}"), Call("POST", "/queues/{name}/pause"), Call("POST", "/queues/{name}/resume"),
     Call("POST", "/dead/{task_id}/retry", target="dead"), Call("POST", "/dead/retry"),
     Call("DELETE", "/dead/{task_id}", target="dead"), Call("DELETE", "/dead")),
    frozenset({"admin"}), "this needs an admin token",
)  # fmt: skip
FAMILIES = (ENQUEUE, READ_ONE, BROWSE, MANAGE)
EVERY_CALL = [pytest.param(c, id=f"{c.method} {c.path}") for f in FAMILIES for c in f.calls]
MATRIX = [
    pytest.param(role, call, family, id=f"{role}: {call.method} {call.path}")
    for family in FAMILIES
    for call in family.calls
    for role in TOKEN_OF
]

failing = dtq.App(builtins=True)


@failing.task(name="boom", max_retries=0)
def boom(_payload: object) -> None:
    raise RuntimeError("dead on arrival")


@pytest.fixture
async def seeded(client: Client, settings: Settings) -> dict[str, str]:
    """A waiting task and a dead one in queue `default`, so every allowed call has real work."""
    dead = await client.enqueue("boom", max_retries=0)
    await dtq.Worker(failing, tuned(settings, worker={"idle_poll": 0.01}), burst=True).run()  # 57 seedings
    waiting = await client.enqueue("t")
    return {"waiting": waiting.id, "dead": dead.id}


async def send(api: httpx.AsyncClient, call: Call, headers: dict[str, str], seeded: dict[str, str]) -> httpx.Response:
    return await api.request(call.method, call.url(seeded), json=call.body, headers=headers)


async def snapshot(client: Client) -> dict[str, object]:
    """What a call could change: the queues' counts and paused flags (not the clock they were read at)."""
    return {name: replace(counts, now_ms=0) for name, counts in (await client.all_queue_stats()).items()}


@pytest.mark.parametrize(("role", "call", "family"), MATRIX)
async def test_each_role_may_call_exactly_its_endpoints(
    secured: httpx.AsyncClient, client: Client, seeded: dict[str, str], *, role: str, call: Call, family: Family
) -> None:
    before = await snapshot(client)
    response = await send(secured, call, bearer(TOKEN_OF[role]), seeded)
    if role in family.roles:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 403
    assert response.json() == {"error": {"code": "forbidden", "message": family.denied, "details": []}}
    assert await snapshot(client) == before  # refused before doing anything


@pytest.mark.parametrize("call", EVERY_CALL)
async def test_no_token_or_a_bad_one_is_401(secured: httpx.AsyncClient, call: Call) -> None:
    nothing = {"waiting": UNKNOWN, "dead": UNKNOWN}  # refused before any lookup
    response = await send(secured, call, {}, nothing)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await send(secured, call, bearer("wrong-token-0123456789abcdef"), nothing)).status_code == 401


async def test_whoami_names_the_viewer_role(secured: httpx.AsyncClient) -> None:
    response = await secured.get("/ui/whoami", headers=bearer(VIEWER_TOKEN))
    assert response.json() == {"role": "viewer", "auth": True}


async def test_health_endpoints_need_no_token(secured: httpx.AsyncClient) -> None:
    assert (await secured.get("/healthz")).status_code == 200
    assert (await secured.get("/readyz")).status_code == 200


async def test_rate_limit_answers_429_with_retry_after_per_token(make_api: ApiFactory) -> None:
    api = await make_api(
        api={"tokens": f"{ADMIN_TOKEN}:admin,{PRODUCER_TOKEN}:producer", "rate_limit": 1, "rate_burst": 3}
    )
    codes = [(await api.post("/tasks", json={"task": "t"}, headers=bearer(PRODUCER_TOKEN))).status_code
             for _ in range(5)]  # fmt: skip
    assert codes == [200, 200, 200, 429, 429]
    limited = await api.post("/tasks", json={"task": "t"}, headers=bearer(PRODUCER_TOKEN))
    assert int(limited.headers["retry-after"]) >= 1
    assert (await api.post("/tasks", json={"task": "t"}, headers=bearer(ADMIN_TOKEN))).status_code == 200


async def test_a_viewer_read_costs_one_unit_of_rate(make_api: ApiFactory) -> None:
    # Roles are checked per route, never per router and route both: one request, one unit.
    api = await make_api(api={"tokens": f"{VIEWER_TOKEN}:viewer", "rate_limit": 1, "rate_burst": 2})
    codes = [(await api.get("/queues", headers=bearer(VIEWER_TOKEN))).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


async def test_the_openapi_document_declares_bearer_auth_only_when_tokens_exist(
    api: httpx.AsyncClient, secured: httpx.AsyncClient
) -> None:
    assert "securitySchemes" not in (await api.get("/openapi.json")).json()["components"]
    document = (await secured.get("/openapi.json")).json()
    assert "HTTPBearer" in document["components"]["securitySchemes"]


async def test_every_secured_operation_documents_401_403_and_429(secured: httpx.AsyncClient) -> None:
    paths = (await secured.get("/openapi.json")).json()["paths"]
    operations = {(method.upper(), path): spec for path, item in paths.items() for method, spec in item.items()}
    public = {("GET", "/healthz"), ("GET", "/readyz")}
    for (method, path), spec in operations.items():
        if (method, path) in public:
            assert "security" not in spec, (method, path)
            continue
        assert spec["security"] == [{"HTTPBearer": []}], (method, path)
        assert {"401", "403", "429"} <= spec["responses"].keys(), (method, path)
    documented = {(c.method, c.path) for f in FAMILIES for c in f.calls if not c.path.startswith("/ui")}
    assert documented == {op for op in operations if op not in public}  # the matrix covers every operation


def test_config_errors_name_all_three_roles(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="role must be producer, viewer or admin, not 'reader'"):
        Tokens.from_settings(settings.with_changes(api={"tokens": "r" * 20 + ":reader"}).api)
    with pytest.raises(ConfigError, match=r"expected token:role \(role producer, viewer or admin\)"):
        Tokens.from_settings(settings.with_changes(api={"tokens": "no-role-at-all-here"}).api)
    viewer = Tokens.from_settings(settings.with_changes(api={"tokens": "v" * 20 + ":viewer"}).api)
    principal = viewer.identify("v" * 20)
    assert principal is not None and principal.role == "viewer"


async def test_the_rate_limit_is_shared_by_every_replica(make_api: ApiFactory) -> None:
    """Two API apps on one Redis are two replicas: a token's burst spent on one is spent on both
    (each process kept its own bucket before, so N replicas allowed N times the rate)."""
    settings = {"tokens": f"{PRODUCER_TOKEN}:producer", "rate_limit": 0.01, "rate_burst": 3}
    first, second = await make_api(api=settings), await make_api(api=settings)
    codes = [(await api.post("/tasks", json={"task": "echo"}, headers=bearer(PRODUCER_TOKEN))).status_code
             for api in (first, second, first, second)]  # fmt: skip
    assert codes == [200, 200, 200, 429]


async def test_failed_authentication_is_limited_per_client_address(make_api: ApiFactory) -> None:
    api = await make_api(
        api={"tokens": f"{PRODUCER_TOKEN}:producer", "auth_failure_burst": 5, "auth_failure_rate": 0.01}
    )
    guesses = [(await api.get("/queues", headers=bearer(f"guess-{n:020d}"))).status_code for n in range(7)]
    assert guesses == [401] * 5 + [429] * 2
    assert (await api.post("/tasks", json={"task": "echo"}, headers=bearer(PRODUCER_TOKEN))).status_code == 200


async def test_without_tokens_the_rate_limit_counts_client_addresses(make_api: ApiFactory) -> None:
    api = await make_api(api={"rate_limit": 0.01, "rate_burst": 2})
    codes = [(await api.post("/tasks", json={"task": "echo"})).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


async def test_a_token_limited_to_queue_patterns_enqueues_only_there(make_api: ApiFactory) -> None:
    mail = "mail-token-0123456789abcdef"
    api = await make_api(api={"tokens": f"{mail}:producer@mail|mail-*,{ADMIN_TOKEN}:admin"})
    headers = bearer(mail)
    for queue in ("mail", "mail-bulk"):
        assert (await api.post("/tasks", json={"task": "echo", "queue": queue}, headers=headers)).status_code == 200
    other = await api.post("/tasks", json={"task": "echo", "queue": "billing"}, headers=headers)
    assert other.status_code == 403 and other.json()["error"]["code"] == "queue_not_allowed"
    default = await api.post("/tasks/schedule", json={"task": "echo", "delay": 1}, headers=headers)
    assert default.status_code == 403  # no queue named means "default", which is not allowed either
    mixed = await api.post("/tasks/bulk", json=[{"task": "echo", "queue": "mail"}, {"task": "echo", "queue": "x"}],
                           headers=headers)  # fmt: skip
    assert [(d["field"], d["index"]) for d in mixed.json()["error"]["details"]] == [("queue", 1)]
    admin = await api.post("/tasks", json={"task": "echo", "queue": "billing"}, headers=bearer(ADMIN_TOKEN))
    assert admin.status_code == 200


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("viewer-token-0123456789:viewer@mail", "restrict producer tokens only"),
        ("mail-token-0123456789ab:producer@", "queue patterns are"),
        ("mail-token-0123456789ab:producer@mail;rm", "queue patterns are"),
        ("mail-token-0123456789ab:admin@x|y", "restrict producer tokens only"),
    ],
)
def test_bad_queue_patterns_are_config_errors(settings: Settings, entry: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Tokens.from_settings(settings.with_changes(api={"tokens": entry}).api)
