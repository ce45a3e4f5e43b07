"""The contender registry: every adapter module contributes one or more :class:`Contender`."""

from __future__ import annotations

from bench.contender import Contender
from bench.contenders import arq_, celery_, dramatiq_, dtq_, huey_, rq_, saq_, taskiq_

CONTENDERS: tuple[Contender, ...] = (
    dtq_.CONTENDER,
    dtq_.SYNC,
    celery_.CONTENDER,
    rq_.SIMPLE,
    rq_.FORKING,
    arq_.CONTENDER,
    saq_.CONTENDER,
    dramatiq_.CONTENDER,
    taskiq_.CONTENDER,
    huey_.CONTENDER,
)


def select(names: str | None) -> list[Contender]:
    """Contenders named in a comma-separated ``--only`` value, in registry order; all if None."""
    if not names:
        return list(CONTENDERS)
    wanted = {n.strip() for n in names.split(",") if n.strip()}
    unknown = wanted - {c.name for c in CONTENDERS}
    if unknown:
        known = ", ".join(c.name for c in CONTENDERS)
        raise SystemExit(f"unknown contender(s) {sorted(unknown)}; known: {known}")
    return [c for c in CONTENDERS if c.name in wanted]
