"""Request rate limits shared by every API replica: one Redis script call (take_permit.lua) per
charged request, so N replicas allow what one does, not N times as much.

Three limits, each a GCRA bucket in Redis:
- per token, on every authenticated request (DTQ_API_RATE_LIMIT / _BURST; 0 turns it off);
- per client address, on every failed authentication, before the 401 is sent, so guessing tokens
  is slow whatever the other settings say (DTQ_API_AUTH_FAILURE_RATE / _BURST; on by default);
- per client address, on every request, when no tokens are configured and DTQ_API_RATE_LIMIT is
  set (there is no token to count by).
Client addresses are what the server sees: behind an ingress, that is the ingress unless the
server is told to trust its forwarding headers (docs/security.md).
"""

from __future__ import annotations

import hashlib
import logging
import math

from dtq.settings import ApiSettings
from dtq.store.store import Store
from services.api.errors import ApiError

log = logging.getLogger("dtq.api")


class RateLimits:
    """The API's rate limits, on the shared store."""

    def __init__(self, store: Store, settings: ApiSettings, *, open_api: bool) -> None:
        self.store = store
        self.settings = settings
        self.open_api = open_api

    def describe(self) -> str:
        """One start-up line saying what is limited, and what cannot be."""
        s = self.settings
        failures = f"failed authentication {s.auth_failure_rate:g}/s per client address"
        if not s.rate_limit:
            return f"rate limits: {failures}; requests are not limited (DTQ_API_RATE_LIMIT=0)"
        if self.open_api:
            return f"rate limits: no tokens configured, so {s.rate_limit:g}/s per client address"
        return f"rate limits: {s.rate_limit:g}/s per token (burst {s.rate_burst}); {failures}"

    async def charge_token(self, digest: bytes) -> None:
        """429 if the token with this digest is over its rate."""
        if self.settings.rate_limit:
            await self._charge("token:" + digest[:16].hex(), self.settings.rate_limit, self.settings.rate_burst)

    async def charge_address(self, address: str | None) -> None:
        """429 if this client address is over the request rate (the API has no tokens)."""
        if self.settings.rate_limit:
            await self._charge("address:" + _subject(address), self.settings.rate_limit, self.settings.rate_burst)

    async def charge_failure(self, address: str | None) -> None:
        """429 if this client address has failed authentication too often."""
        s = self.settings
        await self._charge("failed:" + _subject(address), s.auth_failure_rate, s.auth_failure_burst)

    async def _charge(self, subject: str, rate: float, burst: int) -> None:
        wait = await self.store.take_permit(subject, rate, burst)
        if wait > 0:
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            raise ApiError(429, "rate_limited", "too many requests; retry later", headers=headers)


def _subject(address: str | None) -> str:
    # Hashed: an address is not a key name we want in Redis verbatim (IPv6 colons, length).
    return hashlib.sha256((address or "unknown").encode()).hexdigest()[:24]
