"""What routes depend on: the shared state, the caller's identity and role, the client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dtq.client import Client
from dtq.settings import Settings
from services.api.auth import Principal, Role, Tokens, either
from services.api.batching import EnqueueBatcher
from services.api.errors import ApiError
from services.api.ratelimit import RateLimits

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>` (when tokens are configured)")


@dataclass(slots=True)
class ApiState:
    """Everything the routes share, built once by the app's lifespan."""

    settings: Settings
    client: Client
    batcher: EnqueueBatcher
    tokens: Tokens
    limits: RateLimits
    #: The task names producers may enqueue, when the API loaded the handlers (DTQ_APP); None
    #: when it cannot know them, and then any well-formed name is taken.
    task_names: frozenset[str] | None = None


# Dependencies are `async def` on purpose: FastAPI runs plain functions in a thread pool, a thread
# hop per request for what is an attribute lookup.
async def api_state(request: Request) -> ApiState:
    """The app's shared state."""
    state: ApiState = request.app.state.dtq
    return state


StateDep = Annotated[ApiState, Depends(api_state)]


async def client(state: StateDep) -> Client:
    """The dtq client."""
    return state.client


ClientDep = Annotated[Client, Depends(client)]

ANONYMOUS = Principal(b"", Role.ADMIN)


@dataclass(frozen=True, slots=True)
class Grant:
    """The roles an operation admits (admin always among them) and the 403 message naming them.
    Built once per operation, so checking a request is a set lookup."""

    roles: frozenset[Role]
    denied: str

    @classmethod
    def of(cls, *roles: Role) -> Grant:
        """Admit `roles` and admin."""
        admitted = frozenset({*roles, Role.ADMIN})
        names = either(admitted)
        article = "an" if names[0] in "aeiou" else "a"
        return cls(admitted, f"this needs {article} {names} token")


async def authorize(state: ApiState, request: Request, grant: Grant) -> Principal:
    """Who sent the request's `Authorization`, if `grant` admits their role: 401 no or unknown
    token (429 instead once the client address has failed too often), 429 over the token's
    rate, 403 a role the operation does not admit. Rate limits are shared by every replica."""
    address = request.client.host if request.client else None
    if state.tokens.open:
        await state.limits.charge_address(address)
        return ANONYMOUS
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    principal = state.tokens.identify(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if principal is None:
        await state.limits.charge_failure(address)
        raise ApiError(401, "unauthorized", "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    await state.limits.charge_token(principal.digest)
    if principal.role not in grant.roles:
        raise ApiError(403, "forbidden", grant.denied)
    return principal


def requires(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting tokens of `roles` (and admin tokens, which may do anything)."""
    grant = Grant.of(*roles)

    async def check(
        request: Request, state: StateDep, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        return await authorize(state, request, grant)

    return check


#: The enqueue routes call `authorize` with this themselves (they skip dependency injection).
ENQUEUE = Grant.of(Role.PRODUCER)
# Each route declares exactly one of these: two on one route would charge the rate limit twice.
AnyRole = Depends(requires(Role.PRODUCER, Role.VIEWER))
Viewer = Depends(requires(Role.VIEWER))
Admin = Depends(requires(Role.ADMIN))
