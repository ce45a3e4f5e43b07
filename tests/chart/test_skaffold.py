"""skaffold.yaml, checked statically (no skaffold binary here): schema, paths, values, port-forward."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml
from jsonschema.exceptions import best_match

from tests.chart.rendering import REPO, render

SCHEMA_FILE = Path(__file__).parent / "schemas" / "skaffold-v4beta14.json"
SCHEMA_SHA256 = "7c29a621995d2c6143d3c423c8e3d3dfb25703a49fd1cf77644b54168414b39e"
CONFIG = yaml.safe_load((REPO / "skaffold.yaml").read_text())
DOCKERFILE = REPO / "services" / "Dockerfile"


def validator() -> jsonschema.Draft7Validator:
    definitions = json.loads(SCHEMA_FILE.read_text())["definitions"]
    # The schema's root is an anyOf around SkaffoldConfig; validating the definition gives real messages.
    return jsonschema.Draft7Validator({"$ref": "#/definitions/SkaffoldConfig", "definitions": definitions})


def schema_errors(config: dict[str, Any]) -> list[str]:
    errors = list(validator().iter_errors(config))
    return [best_match(errors).message] if errors else []


def apply_patches(config: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    """JSON Patch `add`/`replace` (all skaffold.yaml uses), as skaffold applies a profile."""
    patched = copy.deepcopy(config)
    for patch in patches:
        assert patch["op"] in {"add", "replace"}, patch
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in patch["path"].split("/")[1:]]
        node: Any = patched
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if patch["op"] == "replace":
            assert last in node, f"replace of a missing {patch['path']}"
        node[last] = patch["value"]
    return patched


def profile(name: str) -> dict[str, Any]:
    [found] = [p for p in CONFIG["profiles"] if p["name"] == name]
    return found


def artifact_variable(image: str) -> str:
    """Skaffold's template-variable suffix for an artifact: / - . : become _."""
    return re.sub(r"[/\-.:]", "_", image)


def helm_values(release: dict[str, Any], images: dict[str, str]) -> dict[str, Any]:
    """The values Helm would get from a release's setValues and setValueTemplates (`--set k=v`)."""
    expressions = []
    for key, value in release.get("setValues", {}).items():
        text = value if isinstance(value, str) else json.dumps(value)
        expressions.append(f"{key}={text}")
    for key, template in release.get("setValueTemplates", {}).items():
        text = re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: images[m.group(1)], template)
        assert "{{" not in text, f"unresolved template in {key}: {template}"
        expressions.append(f"{key}={text}")
    values: dict[str, Any] = {}
    for expression in expressions:
        merge(values, helm.parse_set_string(expression))
    return values


def merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


FAKE_DIGEST = "sha256:" + "0" * 64


def fake_images() -> dict[str, str]:
    images = {}
    for artifact in CONFIG["build"]["artifacts"]:
        name = artifact_variable(artifact["image"])
        images |= {
            f"IMAGE_REPO_{name}": f"registry.example.com/{artifact['image']}",
            f"IMAGE_TAG_{name}": "v9",
            f"IMAGE_DIGEST_{name}": FAKE_DIGEST,
            f"IMAGE_FULLY_QUALIFIED_{name}": f"registry.example.com/{artifact['image']}:v9@{FAKE_DIGEST}",
        }
    return images


# --- schema ------------------------------------------------------------------------------------


def test_vendored_schema_is_the_upstream_file() -> None:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_config_is_v4beta14_and_valid() -> None:
    assert CONFIG["apiVersion"] == "skaffold/v4beta14" and CONFIG["kind"] == "Config"
    assert not schema_errors(CONFIG)


@pytest.mark.parametrize("name", [p["name"] for p in CONFIG["profiles"]])
def test_config_with_each_profile_applied_is_valid(name: str) -> None:
    assert not schema_errors(apply_patches(CONFIG, profile(name).get("patches", [])))
    for activation in profile(name).get("activation", []):
        if "kubeContext" in activation:
            re.compile(activation["kubeContext"])


def test_schema_catches_a_misspelled_key() -> None:
    broken = copy.deepcopy(CONFIG)
    release = broken["deploy"]["helm"]["releases"][0]
    release["chartpath"] = release.pop("chartPath")
    assert schema_errors(broken)


# --- paths -------------------------------------------------------------------------------------


def matching(root: Path, pattern: str) -> list[str]:
    """Files a skaffold sync glob matches, relative to the build context."""
    return [str(p.relative_to(root)) for p in root.glob(pattern) if p.is_file()]


def dockerfile_stages() -> set[str]:
    return set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE | re.IGNORECASE))


def test_every_artifact_builds_from_an_existing_dockerfile_and_stage() -> None:
    for artifact in CONFIG["build"]["artifacts"]:
        context = REPO / artifact.get("context", ".")
        assert context.is_dir()
        docker = artifact["docker"]
        assert (context / docker["dockerfile"]).resolve() == DOCKERFILE
        assert docker["target"] in dockerfile_stages()


def test_sync_rules_match_files_and_land_in_the_image_site_packages() -> None:
    python = re.search(r"ARG PYTHON_IMAGE=python:(\d+\.\d+)", DOCKERFILE.read_text())
    assert python is not None
    site_packages = f"/opt/dtq/lib/python{python.group(1)}/site-packages"
    for artifact in CONFIG["build"]["artifacts"]:
        for rule in artifact["sync"]["manual"]:
            matches = matching(REPO / artifact.get("context", "."), rule["src"])
            assert matches, f"sync rule {rule['src']} matches no file"
            assert rule["dest"] == site_packages
            # what lands in the image is the installed package path: src minus strip
            for match in matches:
                relative = match.removeprefix(rule.get("strip", ""))
                assert relative.split("/")[0] in {"dtq", "services", "dtq_operator"}, relative


def test_every_dtq_source_file_is_synced() -> None:
    patterns = [r["src"] for a in CONFIG["build"]["artifacts"] for r in a["sync"]["manual"]]
    synced = {m for p in patterns for m in matching(REPO, p)}
    sources = {
        str(p.relative_to(REPO))
        for d in ("dtq", "services", "operator/dtq_operator")
        for p in (REPO / d).rglob("*")
        if p.suffix in {".py", ".lua"}
    }
    assert sources <= synced, sorted(sources - synced)


def test_every_release_chart_and_values_file_exists() -> None:
    for release in CONFIG["deploy"]["helm"]["releases"]:
        chart_path = REPO / release["chartPath"]
        with helm.Chart.load(chart_path) as chart:
            assert chart.name == "dtq"
        for values_file in release.get("valuesFiles", []):
            assert (REPO / values_file).is_file(), values_file


# --- values and images -------------------------------------------------------------------------


def test_value_templates_name_built_artifacts() -> None:
    built = {artifact_variable(a["image"]) for a in CONFIG["build"]["artifacts"]}
    for release in CONFIG["deploy"]["helm"]["releases"]:
        for template in release.get("setValueTemplates", {}).values():
            for variable in re.findall(r"\{\{\s*\.IMAGE_[A-Z_]+?_(\w+)\s*\}\}", template):
                assert variable in built, template


@pytest.mark.parametrize("profile_name", [None, *[p["name"] for p in CONFIG["profiles"]]])
def test_set_values_exist_in_the_chart_and_wire_the_built_image(profile_name: str | None) -> None:
    config = CONFIG if profile_name is None else apply_patches(CONFIG, profile(profile_name).get("patches", []))
    [release] = config["deploy"]["helm"]["releases"]
    # The chart schema forbids unknown keys, so a wrong key in skaffold.yaml fails this render.
    rendered = render(helm_values(release, fake_images()), name=release["name"])
    dtq_images = {
        c["image"]
        for o, _, c in rendered.containers()
        if o["metadata"]["labels"]["app.kubernetes.io/component"] != "redis"
    }
    assert dtq_images == {f"registry.example.com/dtq:v9@{FAKE_DIGEST}"}
    if profile_name == "local":
        assert rendered.component("api")["spec"]["replicas"] == 1
        assert "volumeClaimTemplates" not in rendered.component("redis")["spec"]
        assert config["build"]["local"]["push"] is False


def test_dev_release_can_sync_into_the_pods() -> None:
    [release] = CONFIG["deploy"]["helm"]["releases"]
    rendered = render(helm_values(release, fake_images()), name=release["name"])
    for obj, _, container in rendered.containers():
        if obj["metadata"]["labels"]["app.kubernetes.io/component"] in {"api", "worker", "scheduler", "operator"}:
            assert container["securityContext"]["readOnlyRootFilesystem"] is False


def test_port_forward_targets_the_rendered_api_service() -> None:
    [release] = CONFIG["deploy"]["helm"]["releases"]
    rendered = render(helm_values(release, fake_images()), name=release["name"])
    assert CONFIG["portForward"], "the API should be forwarded"
    for forward in CONFIG["portForward"]:
        assert forward["resourceType"] == "service"
        service = rendered.get("Service", forward["resourceName"])
        assert forward["port"] in {p["port"] for p in service["spec"]["ports"]}
        assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "api"
    assert [f["localPort"] for f in CONFIG["portForward"]] == [3000]
