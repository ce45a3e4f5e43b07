"""The shared state a workload runs against: paths, config, the two private Redis servers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.config import Config
from bench.contender import Contender
from bench.redis_server import PrivateRedis
from bench.venvs import Env


@dataclass
class Context:
    """Built once by the CLI and handed to every workload."""

    repo: Path
    bench_dir: Path
    work_dir: Path
    config: Config
    queue: PrivateRedis
    """The server the contenders use as their broker; its stats are the contenders' cost."""
    probe: PrivateRedis
    """A second server for completion counters and latency samples, kept out of the stats."""
    envs: dict[str, Env] = field(default_factory=dict)
    quiet_waited_s: float = 0.0
    """Time spent so far waiting for other work on the machine to stop."""
    failures: dict[str, str] = field(default_factory=dict)
    """Contender name -> why it could not be installed; workloads report it as "failed: ..."."""

    def env_of(self, contender: Contender) -> Env | None:
        return self.envs.get(contender.name)

    def log_path(self, name: str) -> Path:
        logs = self.work_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return logs / f"{name}.log"

    def say(self, message: str) -> None:
        print(message, flush=True)
