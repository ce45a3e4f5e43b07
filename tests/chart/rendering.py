"""Render charts/dtq with Helm's own engine (helm-python-sdk, no binary) and look at the result."""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "dtq"
SCENARIOS = sorted(p.name for p in (CHART / "ci").glob("*.yaml"))
RELEASE = "dtq"
NAMESPACE = "dtq-test"
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}


@functools.cache
def chart() -> helm.Chart:
    """The chart, loaded once per test session (charts are immutable and thread-safe)."""
    return helm.Chart.load(CHART)


def scenario_values(name: str) -> dict[str, Any]:
    """The values of one `ci/` scenario file."""
    values = yaml.safe_load((CHART / "ci" / name).read_text())
    assert isinstance(values, dict), f"ci/{name} must hold a mapping"
    return values


@dataclass(frozen=True)
class Rendered:
    """One rendering: every object, the NOTES text, and the raw text per template."""

    objects: list[dict[str, Any]]
    notes: str
    texts: dict[str, str]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {o["metadata"]["name"] for o in self.of_kind(kind)}

    def pods(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(object, pod spec) for every workload and bare Pod (the helm test pod)."""
        for obj in self.objects:
            if obj["kind"] in WORKLOAD_KINDS:
                yield obj, obj["spec"]["template"]["spec"]
            elif obj["kind"] == "Pod":
                yield obj, obj["spec"]

    def containers(self) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        """(object, pod spec, container) for every container, init containers included."""
        for obj, spec in self.pods():
            for container in [*spec.get("initContainers", []), *spec["containers"]]:
                yield obj, spec, container

    def component(self, name: str) -> dict[str, Any]:
        """The workload of a component (api, worker, scheduler, operator, redis)."""
        found = [o for o, _ in self.pods() if o["metadata"]["labels"].get("app.kubernetes.io/component") == name]
        assert len(found) == 1, f"expected one workload for component {name}, found {len(found)}"
        return found[0]

    def config(self) -> dict[str, str]:
        """The data of the dtq settings ConfigMap."""
        return dict(self.get("ConfigMap", f"{fullname(self)}-config")["data"])

    def secret_value(self, name: str, key: str) -> str:
        return base64.b64decode(self.get("Secret", name)["data"][key]).decode()


def fullname(rendered: Rendered) -> str:
    """The object-name prefix, read back from the settings ConfigMap's name."""
    names = [n for n in rendered.names("ConfigMap") if n.endswith("-config")]
    assert len(names) == 1, names
    return names[0].removesuffix("-config")


def render(values: dict[str, Any] | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE) -> Rendered:
    """Render like `helm install --dry-run`: schema checked, every document parsed as YAML."""
    texts = chart().render(values or {}, name=name, namespace=namespace, is_install=True)
    objects: list[dict[str, Any]] = []
    notes = ""
    for path, text in sorted(texts.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        for document in yaml.safe_load_all(text):
            if document is not None:
                assert isinstance(document, dict), f"{path} rendered a non-object document"
                objects.append(document)
    return Rendered(objects, notes, texts)


@functools.cache
def render_scenario(name: str) -> Rendered:
    """A `ci/` scenario rendered once per session (tests must not mutate the result)."""
    return render(scenario_values(name))


def env_value(entry: dict[str, Any]) -> str | None:
    """The literal value of an env entry, or None when it comes from a Secret or the downward API."""
    value = entry.get("value")
    return None if value is None else str(value)
