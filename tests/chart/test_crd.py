"""The default WorkerAutoscaler is valid for the CRD the chart ships, and targets the worker Deployment."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
import yaml

from tests.chart.rendering import CHART, SCENARIOS, chart, render, render_scenario

CRD = yaml.safe_load((CHART / "crds" / "workerautoscalers.dtq.dev.yaml").read_text())


def crd_validator() -> jsonschema.Validator:
    [version] = [v for v in CRD["spec"]["versions"] if v["storage"]]
    schema = version["schema"]["openAPIV3Schema"]
    # OpenAPI v3 structural schemas are JSON Schema plus x-kubernetes-* keys, which validators ignore.
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def autoscaler(scenario: str) -> dict[str, Any]:
    [resource] = render_scenario(scenario).of_kind("WorkerAutoscaler")
    return resource


def test_chart_ships_the_crd_under_crds() -> None:
    shipped = {crd["name"]: yaml.safe_load(crd["data"]) for crd in chart().crds}
    assert shipped == {"crds/workerautoscalers.dtq.dev.yaml": CRD}


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "operator-off-values.yaml"])
def test_default_custom_resource_matches_the_crd(scenario: str) -> None:
    resource = autoscaler(scenario)
    group = CRD["spec"]["group"]
    served = {v["name"] for v in CRD["spec"]["versions"] if v["served"]}
    resource_group, version = resource["apiVersion"].split("/")
    assert resource_group == group and version in served
    assert resource["kind"] == CRD["spec"]["names"]["kind"]
    assert CRD["spec"]["scope"] == "Namespaced" and resource["metadata"]["namespace"]
    errors = sorted(crd_validator().iter_errors(resource), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_custom_resource_targets_the_worker_deployment_and_its_queues() -> None:
    rendered = render_scenario("default-values.yaml")
    spec = autoscaler("default-values.yaml")["spec"]
    worker = rendered.component("worker")
    assert spec["targetDeployment"] == worker["metadata"]["name"]
    assert spec["queues"] == ["default"]
    [role] = rendered.of_kind("Role")
    assert role["rules"][0]["resourceNames"] == [spec["targetDeployment"]]
    assert spec == {
        "targetDeployment": "dtq-worker",
        "queues": ["default"],
        "backlogPerReplica": 100,
        "minReplicas": 1,
        "maxReplicas": 10,
        "activationBacklog": 0,
        "pollInterval": 5,
        "scaleDownStabilization": 300,
        "cooldown": 300,
        "countActive": True,
    }


def test_custom_resource_takes_its_fields_from_values() -> None:
    spec = autoscaler("ingress-tokens-netpol-values.yaml")["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"], spec["maxOldestAge"]) == (0, 20, 60)
    explicit = render({"operator": {"autoscaler": {"queues": ["emails"], "countActive": False}}})
    [resource] = explicit.of_kind("WorkerAutoscaler")
    assert resource["spec"]["queues"] == ["emails"] and resource["spec"]["countActive"] is False


def test_crd_schema_validation_would_catch_a_bad_resource() -> None:
    resource = copy.deepcopy(autoscaler("default-values.yaml"))
    resource["spec"]["backlogPerReplica"] = 0
    del resource["spec"]["targetDeployment"]
    messages = {e.message for e in crd_validator().iter_errors(resource)}
    assert any("targetDeployment" in m for m in messages)
    assert any("minimum" in m for m in messages)


def test_autoscaler_can_be_turned_off_and_leaves_worker_replicas_to_values() -> None:
    rendered = render({"operator": {"autoscaler": {"enabled": False}}, "worker": {"replicaCount": 4}})
    assert not rendered.of_kind("WorkerAutoscaler")
    assert rendered.component("worker")["spec"]["replicas"] == 4
