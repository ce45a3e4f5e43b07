"""Per-contender virtualenvs under ``bench/.venvs``, built from the pinned requirement files."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import procs
from bench.contender import Contender

INSTALL_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Env:
    """A ready environment: where its executables are and what versions it holds."""

    bin_dir: Path
    versions: dict[str, str]

    @property
    def python(self) -> Path:
        return self.bin_dir / "python"


class InstallError(Exception):
    """A contender's environment could not be built or imported."""


def ensure(contender: Contender, bench_dir: Path, repo: Path) -> Env:
    """Create or reuse the contender's venv; raise InstallError with a short reason."""
    requirements = contender.requirements(bench_dir)
    if requirements is None:
        bin_dir = repo / ".venv" / "bin"
    else:
        bin_dir = _build(bench_dir / ".venvs" / str(contender.venv), requirements)
    if contender.import_check:
        _check(bin_dir, contender.import_check, repo)
    return Env(bin_dir, _versions(bin_dir, contender.packages, repo))


def _build(venv: Path, requirements: Path) -> Path:
    # A stamp with the requirement file's hash lets repeated runs skip pip entirely.
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = venv / ".bench-requirements.sha256"
    bin_dir = venv / "bin"
    if stamp.exists() and stamp.read_text().strip() == digest:
        return bin_dir
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(requirements),
        ],
    ]
    for argv in steps:
        try:
            done = procs.run(argv, None, venv.parent.parent, INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise InstallError(f"install timed out after {INSTALL_TIMEOUT_S:.0f} s") from None
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise InstallError(f"install failed: {last[0][:200]}")
    stamp.write_text(digest + "\n")
    return bin_dir


def _check(bin_dir: Path, statement: str, repo: Path) -> None:
    done = procs.run([str(bin_dir / "python"), "-c", statement], None, repo, 60.0)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise InstallError(f"`{statement}` fails: {last[0][:200]}")


def _versions(bin_dir: Path, packages: tuple[str, ...], repo: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try: out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: out[name] = 'not installed'\n"
        "print(json.dumps(out))\n"
    )
    done = procs.run([str(bin_dir / "python"), "-c", code, *packages], None, repo, 60.0)
    if done.returncode != 0:
        return {name: "unknown" for name in packages}
    versions: dict[str, str] = json.loads(done.stdout)
    return versions
