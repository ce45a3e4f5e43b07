"""Bearer tokens with three roles. Tokens are kept only as SHA-256 digests and compared in
constant time against every configured digest, so timing reveals neither a token nor which
one matched."""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from dtq.errors import ConfigError
from dtq.settings import ApiSettings

log = logging.getLogger("dtq.api")


class Role(StrEnum):
    """What a token may do."""

    PRODUCER = "producer"  #: enqueue tasks and read them by id
    VIEWER = "viewer"  #: read everything, change nothing (dashboards, Prometheus)
    ADMIN = "admin"  #: everything


def either(roles: Iterable[Role]) -> str:
    """`roles` for a message, in declaration order: "producer, viewer or admin"."""
    wanted = set(roles)
    names = [role.value for role in Role if role in wanted]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


@dataclass(frozen=True, slots=True)
class Grant:
    """What one configured token may do: its role, and the queues it may enqueue to (glob
    patterns; None: any queue)."""

    role: Role
    queues: tuple[str, ...] | None = None

    def may_enqueue_to(self, queue: str) -> bool:
        """Whether this token may enqueue to `queue`."""
        return self.queues is None or any(fnmatch.fnmatchcase(queue, pattern) for pattern in self.queues)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: the token's digest (for rate limiting and logs), role and queues."""

    digest: bytes
    role: Role
    queues: tuple[str, ...] | None = None

    def may_enqueue_to(self, queue: str) -> bool:
        """Whether this caller may enqueue to `queue`."""
        return Grant(self.role, self.queues).may_enqueue_to(queue)

    @property
    def name(self) -> str:
        """A short, non-secret handle for logs."""
        return self.digest[:4].hex()


class Tokens:
    """The configured tokens; `open` when there are none (then every request is admin)."""

    def __init__(self, entries: dict[bytes, Grant]) -> None:
        self._entries = list(entries.items())

    @property
    def open(self) -> bool:
        """No tokens configured: the API does not check Authorization."""
        return not self._entries

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> Tokens:
        """Tokens from DTQ_API_TOKENS and DTQ_API_TOKENS_FILE: `token:role` each, or
        `token:role@pattern|pattern` to allow enqueueing only to queues matching a pattern."""
        lines = [t.get_secret_value() for t in settings.tokens]
        if settings.tokens_file is not None:
            try:
                lines += Path(settings.tokens_file).read_text().splitlines()
            except OSError as exc:
                raise ConfigError(f"DTQ_API_TOKENS_FILE: cannot read {settings.tokens_file}: {exc}") from exc
        entries: dict[bytes, Grant] = {}
        for number, line in enumerate(lines, start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                token, grant = _parse(line.strip(), number)
                entries[digest(token)] = grant
        return cls(entries)

    def identify(self, token: str) -> Principal | None:
        """The principal of `token`, or None if it is not configured."""
        presented = digest(token)
        found: Grant | None = None
        for known, grant in self._entries:  # no early exit: every comparison is made
            if hmac.compare_digest(known, presented):
                found = grant
        return None if found is None else Principal(presented, found.role, found.queues)


def digest(token: str) -> bytes:
    """SHA-256 of a token (tokens are high-entropy secrets, so a plain hash suffices)."""
    return hashlib.sha256(token.encode()).digest()


def _parse(entry: str, number: int) -> tuple[str, Grant]:
    # The role is after the last ":" (a token may itself hold ":"); queue patterns follow "@",
    # which no role holds, so a pattern can never be read as a role.
    token, sep, permission = entry.rpartition(":")
    role, at, patterns = permission.partition("@")
    where = f"DTQ_API_TOKENS entry {number}"
    if not sep or not token:
        raise ConfigError(f"{where}: expected token:role (role {either(Role)}), or token:producer@queue-pattern|...")
    if len(token) < 16:
        raise ConfigError(f"{where}: a token needs at least 16 characters")
    try:
        granted = Role(role)
    except ValueError:
        raise ConfigError(f"{where}: role must be {either(Role)}, not {role!r}") from None
    if not at:
        return token, Grant(granted)
    queues = tuple(p for p in patterns.split("|") if p)
    if not queues or not all(QUEUE_GLOB.fullmatch(p) for p in queues):
        raise ConfigError(f"{where}: queue patterns are queue names with * ? [ ], separated by |")
    if granted is not Role.PRODUCER:
        raise ConfigError(f"{where}: queue patterns restrict producer tokens only")
    return token, Grant(granted, queues)


QUEUE_GLOB = re.compile(r"[A-Za-z0-9_.\-*?\[\]!]{1,128}")
