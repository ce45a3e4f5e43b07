"""The locks and pyproject.toml agree, so a fresh clone runs against what the tests passed with.

`make run` installs requirements/run.lock, `make test` requirements/test.lock and the image
requirements/image.lock; `make lock` writes all three from pyproject.toml. These tests fail when
someone changes a dependency, an extra or the build backend in pyproject.toml without refreshing
the locks, and when the environment the tests run in is not the one the lock describes.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
RUN_LOCK = ROOT / "requirements" / "run.lock"
TEST_LOCK = ROOT / "requirements" / "test.lock"
IMAGE_LOCK = ROOT / "requirements" / "image.lock"  # what services/Dockerfile installs
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")


@dataclass(frozen=True)
class Pin:
    version: Version
    marker: Marker | None

    def applies(self) -> bool:
        return self.marker is None or self.marker.evaluate()


def pins(lock: str) -> dict[str, Pin]:
    """Each package the lock pins, by canonical name."""
    found: dict[str, Pin] = {}
    for line in lock.splitlines():
        if match := PIN.match(line):
            marker = Marker(match["marker"]) if match["marker"] else None
            found[canonicalize_name(match["name"])] = Pin(Version(match["version"]), marker)
    return found


def requirements(pyproject: dict[str, Any], *, extras: Sequence[str]) -> list[Requirement]:
    """What the package asks for: its dependencies, the build backend, and those of `extras`."""
    names = [*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]
    names += [r for extra in extras for r in pyproject["project"]["optional-dependencies"][extra]]
    return [Requirement(name) for name in names]


def disagreements(wanted: list[Requirement], locked: dict[str, Pin]) -> list[str]:
    """Each requirement the lock misses or pins outside its range, then the same for what those
    requirements need in turn (read from the installed packages' metadata)."""
    problems: list[str] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    queue = list(wanted)
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        pin = locked.get(name)
        if pin is None:
            problems.append(f"{requirement}: not in the lock")
            continue
        if not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{requirement}: the lock pins {pin.version}")
            continue
        key = (name, frozenset(requirement.extras))
        if key not in seen:
            seen.add(key)
            queue += needs(requirement)
    return problems


def needs(requirement: Requirement) -> list[Requirement]:
    """What the installed distribution of `requirement` needs, with the extras it was asked for."""
    try:
        declared = metadata.requires(requirement.name) or []
    except metadata.PackageNotFoundError:
        return []  # reported by test_the_environment_is_the_lock
    selected = []
    for line in declared:
        asked = Requirement(line)
        if asked.marker is None or any(asked.marker.evaluate({"extra": e}) for e in ("", *requirement.extras)):
            asked.marker = None  # chosen here, for this platform and these extras
            selected.append(asked)
    return selected


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.mark.parametrize(("lock", "extras"), [(RUN_LOCK, ()), (IMAGE_LOCK, ("operator",)), (TEST_LOCK, None)],
                         ids=["run", "image", "test"])  # fmt: skip
def test_every_requirement_is_pinned_to_a_version_it_allows(
    pyproject: dict[str, Any], lock: Path, extras: tuple[str, ...] | None
) -> None:
    every = tuple(pyproject["project"]["optional-dependencies"]) if extras is None else extras
    assert disagreements(requirements(pyproject, extras=every), pins(lock.read_text())) == [], "run `make lock`"


@pytest.mark.parametrize("lock", [RUN_LOCK, IMAGE_LOCK], ids=["run", "image"])
def test_make_run_the_image_and_make_test_get_the_same_versions(lock: Path) -> None:
    own, test = pins(lock.read_text()), pins(TEST_LOCK.read_text())
    assert {name: pin.version for name, pin in own.items()} == {name: test[name].version for name in own}


def test_the_image_installs_from_its_lock_alone() -> None:
    dockerfile = (ROOT / "services" / "Dockerfile").read_text()
    assert f"--require-hashes -r requirements/{IMAGE_LOCK.name}" in dockerfile
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert all("--require-hashes" in line or "--no-deps" in line for line in installs), installs


def test_every_pin_has_hashes() -> None:
    for lock in (RUN_LOCK, IMAGE_LOCK, TEST_LOCK):
        text = lock.read_text()
        entries = [line for line in text.splitlines() if line[:1].isalnum()]
        assert len(entries) == len(pins(text)) > 0, "every entry is a name==version pin"
        for block in re.split(r"\n(?=[A-Za-z])", text.split("\n", 2)[2]):
            assert "--hash=sha256:" in block, f"{lock.name}: {block.splitlines()[0]} has no hash"


def test_the_environment_is_the_lock() -> None:
    """The venv `make test` built holds what the test lock pins (a stale venv fails here)."""
    wrong = {}
    for name, pin in pins(TEST_LOCK.read_text()).items():
        if not pin.applies():
            continue
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            wrong[name] = "not installed"
            continue
        if installed != pin.version:
            wrong[name] = f"{installed} installed, {pin.version} locked"
    assert wrong == {}


def test_a_range_the_lock_does_not_meet_is_named(pyproject: dict[str, Any]) -> None:
    locked = pins(TEST_LOCK.read_text())
    changed = {**pyproject, "project": {**pyproject["project"], "dependencies": ["redis>=99", "a-new-package>=1"]}}
    problems = disagreements(requirements(changed, extras=()), locked)
    assert any(p.startswith("redis>=99: the lock pins") for p in problems)
    assert "a-new-package>=1: not in the lock" in problems


def test_a_dependency_of_a_dependency_missing_from_the_lock_is_named(pyproject: dict[str, Any]) -> None:
    locked = pins(TEST_LOCK.read_text())
    del locked["hiredis"]  # asked for by redis[hiredis], not by pyproject.toml itself
    assert disagreements(requirements(pyproject, extras=()), locked) == ["hiredis>=3.2.0: not in the lock"]
