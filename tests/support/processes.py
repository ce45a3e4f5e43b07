"""Starting dtq's own processes the way a user does (`dtq worker`, `dtq scheduler`), for tests."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DTQ = shutil.which("dtq", path=str(Path(sys.executable).parent)) or "dtq"


def dtq_env(redis_url: str, prefix: str, directory: Path, **settings: str) -> dict[str, str]:
    """Environment for a dtq process: the test's Redis and prefix, fast timings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTQ_")}
    env.update(
        DTQ_REDIS_URL=redis_url,
        DTQ_REDIS_KEY_PREFIX=prefix,
        DTQ_WORKER_LEASE="1",
        DTQ_WORKER_HEARTBEAT_INTERVAL="0.5",
        DTQ_WORKER_IDLE_POLL="0.2",
        DTQ_WORKER_HEALTH_FILE=str(directory / f"health-{secrets.token_hex(4)}"),
        DTQ_SCHEDULER_POLL_INTERVAL="0.2",
        DTQ_SCHEDULER_HEALTH_FILE=str(directory / f"scheduler-{secrets.token_hex(4)}"),
        DTQ_SCHEDULER_QUEUE_REFRESH="0.2",
        DTQ_TASKS_BACKOFF_BASE="0.05",
        DTQ_TASKS_BACKOFF_MAX="0.2",
        ORACLE_URL=redis_url,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    env.update({f"DTQ_{name.upper()}": value for name, value in settings.items()})
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `dtq <args>` in its own process group, logging to `log`."""
    handle = log.open("ab")
    return subprocess.Popen([DTQ, *args], env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> int:
    """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    return process.returncode
