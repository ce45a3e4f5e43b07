"""What the harness knows about one contender: how to install it, produce, and start workers.

Everything here is plain data read by the main-venv harness; the contender's library is only
imported by its worker-side module (``bench.contenders.<name>_tasks``) inside its own venv.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# (bin dir of the contender's venv, number of worker processes) -> one argv per process to start
WorkerArgv = Callable[[Path, int], list[list[str]]]


@dataclass(frozen=True)
class Contender:
    """One row of the results: a library plus the settings it is run with."""

    name: str
    """Row label and the key for ``--only``."""
    venv: str | None
    """Folder under ``bench/.venvs`` built from ``bench/requirements/<venv>.txt``; None = repo venv."""
    tasks_module: str
    """Worker-side module the workers and the producer import."""
    packages: tuple[str, ...]
    """Distributions whose installed versions are reported."""
    worker_argv: WorkerArgv
    producer_api: str
    """The producer call used, in words, for the report."""
    settings: str
    """Worker settings, in words, for the report."""
    why: str
    """Why those settings are the library's best for I/O-free tasks."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment; ``{queue_url}`` in a value is replaced by the private server's URL."""
    drain_n: int | None = None
    """A smaller drain size for a contender too slow for the standard one (rate extrapolated)."""
    import_check: str = ""
    """Python statement that must succeed in the venv before the contender can run."""
    workloads: tuple[str, ...] | None = None
    """The workloads this row belongs to (None = all): a producer variant is a latency row only."""

    def requirements(self, bench_dir: Path) -> Path | None:
        """The pinned requirements file, or None for the repo's own venv."""
        return None if self.venv is None else bench_dir / "requirements" / f"{self.venv}.txt"
