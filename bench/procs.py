"""Child processes in their own process groups, with time limits and group-wide kills."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class Group:
    """Worker processes started together and always stopped together, children included."""

    def __init__(self, argvs: Sequence[Sequence[str]], env: Mapping[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        self._log_file = log.open("ab")
        # Each process leads its own session so that killpg reaches the pool children that
        # Celery, Dramatiq, SAQ, taskiq and Huey fork, not just the command we started.
        self._procs = [
            subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for argv in argvs
        ]

    def pids(self) -> list[int]:
        """Process ids of the commands started (not of any children they forked)."""
        return [p.pid for p in self._procs]

    def exited(self) -> list[int]:
        """Exit codes of processes that have already stopped (a worker must not stop by itself)."""
        return [code for code in (p.poll() for p in self._procs) if code is not None]

    def stop(self, grace_s: float = 3.0) -> None:
        """SIGTERM every group, then SIGKILL whatever is left after ``grace_s``."""
        for proc in self._procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        for proc in self._procs:
            # Always kill the group: a parent that exited may have left pool children behind.
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        self._log_file.close()

    def tail(self, lines: int = 5) -> str:
        """Last lines of the shared log, for a failure reason."""
        text = self.log.read_text(errors="replace").strip().splitlines()
        return " | ".join(line.strip() for line in text[-lines:])


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def run(
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    cwd: Path,
    timeout_s: float,
) -> subprocess.CompletedProcess[str]:
    """Run to completion in its own group; on timeout (or the harness being stopped) kill the
    whole group and raise."""
    proc = subprocess.Popen(
        list(argv),
        env=None if env is None else dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except BaseException:  # TimeoutExpired, or SystemExit from the CLI's signal handler
        _signal_group(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
