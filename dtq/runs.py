"""The run record of a task, t:run[id] = "<attempt>|<started ms>|<lease token>", and lease tokens.

The scripts write it at each claim and rewrite it when a task is handed back or redriven; the
readers parse it here. `store/lua/include/run.lua` is the Lua side of the same format, and
tests/redis/test_formats.py checks that the two agree. A lease token is
"<worker id>#<claim number>": it names the claim holding a task, and with it the worker.
"""

from __future__ import annotations

from dataclasses import dataclass

FIELD_SEPARATOR = "|"
TOKEN_SEPARATOR = "#"  # noqa: S105 - a delimiter, not a secret


@dataclass(frozen=True, slots=True)
class Run:
    """What the last claim recorded: attempt number, when it started, and its lease token."""

    attempts: int
    started_ms: int | None
    token: str

    @property
    def worker(self) -> str | None:
        """The worker that claimed it."""
        return self.token.rpartition(TOKEN_SEPARATOR)[0] or None

    @classmethod
    def parse(cls, raw: bytes | None) -> Run:
        """Decode a run record (empty fields where nothing ran yet; None: never claimed)."""
        attempts, _, rest = (raw or b"0||").decode().partition(FIELD_SEPARATOR)
        started, _, token = rest.partition(FIELD_SEPARATOR)
        return cls(int(attempts or 0), int(started) if started else None, token)

    def encode(self) -> str:
        """The record as the scripts store it."""
        started = "" if self.started_ms is None else str(self.started_ms)
        return FIELD_SEPARATOR.join((str(self.attempts), started, self.token))


def lease_token(worker_id: str, claim_number: int) -> str:
    """The token of a worker's `claim_number`th claim."""
    return f"{worker_id}{TOKEN_SEPARATOR}{claim_number}"


def safe_in_token(part: str) -> str:
    """`part` with the two separators replaced, so it can go into a worker id."""
    return part.replace(FIELD_SEPARATOR, "_").replace(TOKEN_SEPARATOR, "_")
