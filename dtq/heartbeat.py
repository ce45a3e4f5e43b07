"""How a worker tells its pod it is alive: a local stamp file (the Redis registry entry is
`dtq.store.registry`).

The stamp file is what `dtq worker --check` reads for a liveness probe. It is written by the
event loop every second whether or not Redis answers, so a Redis outage does not make
Kubernetes restart healthy workers, while a wedged event loop does get them restarted.
"""

from __future__ import annotations

import time
from pathlib import Path

STAMP_INTERVAL = 1.0
STALE_AFTER = 10.0  # seconds without a stamp before the check fails


def stamp(path: Path) -> None:
    """Record that the event loop is alive now."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(f"{time.time():.3f}\n")
    temporary.replace(path)


def is_fresh(path: Path, stale_after: float = STALE_AFTER) -> bool:
    """True if the stamp exists and is recent (the liveness check)."""
    try:
        stamped = float(path.read_text().strip())
    except (OSError, ValueError):
        return False
    return time.time() - stamped < stale_after
