"""values.schema.json covers every value, mirrors dtq's settings, and rejects the mistakes that matter."""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from typing import Any

import helm_python as helm
import pytest
import yaml
from pydantic.fields import FieldInfo

from dtq.settings import Section, Settings, env_name, env_names
from tests.chart.rendering import CHART, render

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
# Settings the chart sets from its own blocks (redis/externalRedis, api.auth, worker, operator):
# `config` must not accept them, or two places would set one variable.
MANAGED = {
    "DTQ_REDIS_URL",
    "DTQ_REDIS_USERNAME",
    "DTQ_REDIS_PASSWORD",
    "DTQ_REDIS_SENTINEL_PASSWORD",
    "DTQ_API_HOST",
    "DTQ_API_PORT",
    "DTQ_API_TOKENS",
    "DTQ_API_TOKENS_FILE",
    "DTQ_WORKER_QUEUES",
    "DTQ_WORKER_CONCURRENCY",
    "DTQ_WORKER_SHUTDOWN_GRACE",
    "DTQ_WORKER_SHUTDOWN_HARD_DEADLINE",
    "DTQ_WORKER_HEALTH_FILE",
    "DTQ_SCHEDULER_HEALTH_FILE",
    "DTQ_OPERATOR_NAMESPACE",
    "DTQ_OPERATOR_STANDALONE",
    "DTQ_OPERATOR_LIVENESS_PORT",
}
# Objects whose keys are free by nature (Kubernetes maps and pass-through objects).
FREE_FORM = {"stringMap", "freeObject", "global", "valueFrom", "requests", "limits", "objectList"}


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def schema_objects(node: Any, name: str = "root") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object-typed schema node, with the property or definition name it sits under."""
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield name, node
        for key, child in node.items():
            if key in {"properties", "definitions"}:
                for child_name, grandchild in child.items():
                    yield from schema_objects(grandchild, child_name)
            elif key not in {"enum", "const"}:
                yield from schema_objects(child, name)
    elif isinstance(node, list):
        for child in node:
            yield from schema_objects(child, name)


def test_every_object_in_the_schema_forbids_unknown_keys() -> None:
    loose = [
        name
        for name, node in schema_objects(SCHEMA)
        if name not in FREE_FORM and node.get("additionalProperties") is not False
    ]
    assert not loose, f"objects accepting any key: {loose}"


def leaf_paths(values: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(values, dict) and values:
        for key, child in values.items():
            yield from leaf_paths(child, (*path, key))
    else:
        yield path


def schema_at(path: tuple[str, ...]) -> dict[str, Any] | None:
    node = resolve(SCHEMA)
    for key in path:
        properties = node.get("properties", {})
        if key in properties:
            node = resolve(properties[key])
        elif isinstance(node.get("additionalProperties"), dict):
            node = resolve(node["additionalProperties"])
        else:
            return None
    return node


def test_every_value_in_values_yaml_is_described_by_the_schema() -> None:
    missing = [".".join(p) for p in leaf_paths(VALUES) if schema_at(p) is None]
    assert not missing, missing


# Blocks whose keys are Kubernetes' or dtq's own, documented once by the comment above the block.
DOCUMENTED_AS_A_BLOCK = {"config", "podSecurityContext", "containerSecurityContext", "resources"}


def test_values_yaml_passes_its_own_schema() -> None:
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(VALUES)


def test_every_value_in_values_yaml_has_a_comment() -> None:
    """Each key whose value sits on its own line has a comment right above it (`# -- ...`)."""
    undocumented = []
    path: list[tuple[int, str]] = []
    lines = (CHART / "values.yaml").read_text().splitlines()
    for index, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if stripped.startswith("- "):  # a list item: its keys are the list's, documented with it
            while path and path[-1][0] >= indent + 2:
                path.pop()
            path.append((indent + 2, "[]"))
            continue
        if not stripped or stripped.startswith("#") or ":" not in stripped:
            continue
        while (path and path[-1][0] > indent) or (path and path[-1][0] == indent and path[-1][1] != "[]"):
            path.pop()
        if path and path[-1] == (indent, "[]"):
            continue
        key, _, value = stripped.partition(":")
        if indent % 2 or any(name in DOCUMENTED_AS_A_BLOCK for _, name in path):
            path.append((indent, key))
            continue
        path.append((indent, key))
        if value.strip() and not lines[index - 1].lstrip().startswith("#"):
            undocumented.append(".".join(name for _, name in path))
    assert not undocumented, undocumented


def python_type(field: FieldInfo) -> dict[str, Any]:
    """The JSON type a settings field takes in `config`."""
    annotation = field.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in {typing.Union, types.UnionType}:
        annotation = args[0]
    if typing.get_origin(annotation) is typing.Literal:
        return {"type": "string", "enum": list(typing.get_args(annotation))}
    return {bool: {"type": "boolean"}, int: {"type": "integer"}, float: {"type": "number"}}.get(
        annotation,  # type: ignore[arg-type]
        {"type": "string"},
    )


def settings_fields() -> dict[str, FieldInfo]:
    fields = {}
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            fields.update({env_name(name, sub): f for sub, f in annotation.model_fields.items()})
        else:
            fields[env_name(name)] = field
    return fields


def test_config_accepts_exactly_the_settings_the_chart_does_not_manage() -> None:
    config = SCHEMA["properties"]["config"]["properties"]
    assert env_names().keys() >= MANAGED, sorted(MANAGED - env_names().keys())
    assert set(config) == env_names().keys() - MANAGED, (
        f"add to config in values.schema.json: {sorted(env_names().keys() - MANAGED - set(config))}; "
        f"remove: {sorted(set(config) - env_names().keys())}"
    )


def test_config_value_types_match_the_settings_model() -> None:
    config = SCHEMA["properties"]["config"]["properties"]
    fields = settings_fields()
    for name, node in config.items():
        expected = python_type(fields[name])
        assert {k: node[k] for k in expected} == expected, name


def test_extra_env_names_list_every_setting() -> None:
    assert set(SCHEMA["definitions"]["dtqEnvName"]["enum"]) == env_names().keys()


def test_schema_autoscaler_bounds_match_the_crd() -> None:
    crd = yaml.safe_load((CHART / "crds" / "workerautoscalers.dtq.dev.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    autoscaler = SCHEMA["properties"]["operator"]["properties"]["autoscaler"]["properties"]
    for name, node in spec.items():
        if name == "targetDeployment":
            continue
        assert name in autoscaler, f"operator.autoscaler lacks the CRD field {name}"
        chart_node = autoscaler[name]
        options = chart_node.get("oneOf", [chart_node])
        assert any(o.get("type") == node["type"] and o.get("minimum") == node.get("minimum") for o in options), name


# --- bad values are refused --------------------------------------------------------------------

REJECTED = {
    "a typo at the top": ({"workers": {}}, "workers"),
    "a typo in a block": ({"worker": {"replicas": 3}}, "replicas"),
    "an unknown setting": ({"config": {"DTQ_WORKER_CONCURENCY": 4}}, "DTQ_WORKER_CONCURENCY"),
    "a setting the chart manages": ({"config": {"DTQ_REDIS_URL": "redis://x"}}, "DTQ_REDIS_URL"),
    "a setting of the wrong type": ({"config": {"DTQ_TASKS_MAX_RETRIES": "three"}}, "DTQ_TASKS_MAX_RETRIES"),
    "a log format dtq lacks": ({"config": {"DTQ_LOG_FORMAT": "xml"}}, "DTQ_LOG_FORMAT"),
    "an unknown DTQ_ name in extraEnv": ({"api": {"extraEnv": [{"name": "DTQ_API_RATE", "value": "1"}]}}, "extraEnv"),
    "credentials in the Redis URL": ({"externalRedis": {"url": "redis://:pw@redis:6379/0"}}, "url"),
    "a non-Redis URL": ({"externalRedis": {"url": "http://redis:6379"}}, "url"),
    "credentials in a cluster URL": ({"externalRedis": {"url": "redis+cluster://u:pw@a:1,b:2"}}, "url"),
    "a Sentinel URL without the primary's name": ({"externalRedis": {"url": "redis+sentinel://s:26379"}}, "url"),
    "a node without its port": ({"externalRedis": {"mode": "cluster", "nodes": ["redis-0"]}}, "nodes"),
    "an unknown mode": ({"externalRedis": {"mode": "replicated"}}, "mode"),
    "a bad shard map": ({"config": {"DTQ_REDIS_SHARDS": "emails:4"}}, "DTQ_REDIS_SHARDS"),
    "a short API token": ({"api": {"auth": {"tokens": [{"token": "short", "role": "producer"}]}}}, "token"),
    "a token with a separator": ({"api": {"auth": {"tokens": [{"token": "a" * 16 + ",b", "role": "admin"}]}}}, "token"),
    "an unknown role": ({"api": {"auth": {"tokens": [{"token": "a" * 20, "role": "root"}]}}}, "role"),
    "privilege escalation": (
        {"containerSecurityContext": {"allowPrivilegeEscalation": True}},
        "allowPrivilegeEscalation",
    ),
    "running as root allowed": ({"podSecurityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
    "root user": ({"podSecurityContext": {"runAsUser": 0}}, "runAsUser"),
    "capabilities kept": ({"containerSecurityContext": {"capabilities": {"drop": ["NET_RAW"]}}}, "drop"),
    "added capabilities": (
        {"containerSecurityContext": {"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}},
        "add",
    ),
    "privileged Redis": ({"redis": {"containerSecurityContext": {"privileged": True}}}, "privileged"),
    "an empty queue list": ({"worker": {"queues": []}}, "queues"),
    "a bad queue name": ({"worker": {"queues": ["a b"]}}, "queues"),
    "zero concurrency": ({"worker": {"concurrency": 0}}, "concurrency"),
    "negative replicas": ({"api": {"replicaCount": -1}}, "replicaCount"),
    "a replica count as text": ({"scheduler": {"replicaCount": "2"}}, "replicaCount"),
    "autoscaler below one task per replica": (
        {"operator": {"autoscaler": {"backlogPerReplica": 0}}},
        "backlogPerReplica",
    ),
    "a bad pull policy": ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
    "a bad digest": ({"image": {"digest": "md5:abc"}}, "digest"),
    "a numeric image tag": ({"image": {"tag": 1.1}}, "tag"),
    "a bad memory quantity": ({"api": {"resources": {"limits": {"memory": "lots"}}}}, "memory"),
    "a bad maxmemory": ({"redis": {"maxmemory": "1 GB"}}, "maxmemory"),
    "a bad service type": ({"api": {"service": {"type": "Public"}}}, "type"),
    "a bad ingress path type": (
        {"api": {"ingress": {"hosts": [{"host": "h", "paths": [{"path": "/", "pathType": "Any"}]}]}}},
        "pathType",
    ),
    "a bad PDB percentage": ({"worker": {"pdb": {"maxUnavailable": "half"}}}, "maxUnavailable"),
    "a bad probe period": ({"api": {"readinessProbe": {"periodSeconds": 0}}}, "periodSeconds"),
    "a bad scrape interval": ({"serviceMonitor": {"interval": "often"}}, "interval"),
    "a bad CIDR": ({"networkPolicy": {"kubeApiServerCidrs": ["10.0.0.1"]}}, "kubeApiServerCidrs"),
}


@pytest.mark.parametrize("case", REJECTED)
def test_schema_rejects(case: str) -> None:
    values, mentioned = REJECTED[case]
    with pytest.raises(helm.HelmValuesError, match=mentioned):
        render(values)


FAILED_AT_RENDER = {
    "a grace period the shutdown grace does not fit in": (
        {"worker": {"shutdownGrace": 30, "terminationGracePeriodSeconds": 30}},
        "terminationGracePeriodSeconds",
    ),
    "a grace period the hard deadline does not fit in": (
        {"worker": {"shutdownGrace": 25, "shutdownHardDeadline": 5, "terminationGracePeriodSeconds": 30}},
        "shutdownHardDeadline",
    ),
    "no Redis at all": ({"redis": {"enabled": False}}, "externalRedis.url or externalRedis.host"),
    "a cluster without nodes": ({"redis": {"enabled": False}, "externalRedis": {"mode": "cluster"}}, "nodes"),
    "Sentinel without the primary's name": (
        {"redis": {"enabled": False}, "externalRedis": {"mode": "sentinel", "nodes": ["s:26379"]}},
        "masterName",
    ),
    "tokens and an existing token Secret": (
        {"api": {"auth": {"tokens": [{"token": "a" * 20, "role": "admin"}], "existingSecret": "x"}}},
        "not both",
    ),
    "an autoscaler without workers": ({"worker": {"enabled": False}}, "needs worker.enabled"),
    "a ServiceMonitor with an existing token Secret and no token Secret of its own": (
        {"serviceMonitor": {"enabled": True}, "api": {"auth": {"existingSecret": "dtq-tokens"}}},
        "cannot add one to api.auth.existingSecret",
    ),
    "an Ingress in front of an API without tokens": (
        {"api": {"ingress": {"enabled": True}}},
        "api.ingress.enabled with no api.auth.tokens and no api.auth.existingSecret .* api.auth.allowAnonymous: true",
    ),
    "autoscaler max below min": ({"operator": {"autoscaler": {"minReplicas": 5, "maxReplicas": 2}}}, "maxReplicas"),
}


@pytest.mark.parametrize("case", FAILED_AT_RENDER)
def test_render_refuses(case: str) -> None:
    values, message = FAILED_AT_RENDER[case]
    with pytest.raises(helm.HelmRenderError, match=message):
        render(values)


def test_an_ingress_renders_with_tokens_an_existing_secret_or_anonymous_access_allowed() -> None:
    tokens = {"tokens": [{"token": "p" * 20, "role": "producer"}]}
    for auth in (tokens, {"existingSecret": "dtq-tokens"}, {"allowAnonymous": True}):
        [ingress] = render({"api": {"ingress": {"enabled": True}, "auth": auth}}).of_kind("Ingress")
        assert ingress["metadata"]["name"] == "dtq-api"


def test_accepted_edge_values_render() -> None:
    render(
        {
            "worker": {"shutdownGrace": 24.5, "terminationGracePeriodSeconds": 30, "concurrency": 10000},
            "api": {"replicaCount": 0, "pdb": {"maxUnavailable": "50%"}},
            "operator": {"autoscaler": {"minReplicas": 0, "maxReplicas": 1}},
            "image": {"digest": "sha256:" + "0" * 64},
        }
    )
