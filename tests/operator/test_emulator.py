"""The gaps of stock kmock 0.8 that `ClusterEmulator` fills, each as the client sees it."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from dtq_operator.model import GROUP, PLURAL, VERSION
from kubernetes.client.exceptions import ApiException

from tests.operator.conftest import MERGE, Kube


def get_json(kube: Kube, path: str, accept: str = "application/json") -> Any:
    request = urllib.request.Request(kube.emulator.url + path, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def test_namespaces_are_a_cluster_scoped_resource(kube: Kube) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    assert sorted(n.metadata.name for n in kube.core.list_namespace().items) == ["default", "other"]
    assert kube.core.read_namespace("other").metadata.uid


def test_created_objects_get_server_metadata_and_201(kube: Kube) -> None:
    kube.autoscaler("wa", targetDeployment="w", queues=["q"])  # create_* returns None unless the answer is 201
    created = kube.resource("wa")
    meta = created["metadata"]
    assert (meta["namespace"], meta["generation"], created["kind"]) == ("default", 1, "WorkerAutoscaler")
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"]
    with pytest.raises(ApiException) as taken:
        kube.autoscaler("wa", targetDeployment="w", queues=["q"])
    assert (taken.value.status, "AlreadyExists" in str(taken.value.body)) == (409, True)


def test_every_change_makes_a_new_resource_version_and_spec_changes_a_new_generation(kube: Kube) -> None:
    kube.autoscaler("wa", targetDeployment="w", queues=["q"])
    first = kube.resource("wa")["metadata"]
    kube.custom.patch_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "wa",
                                                      {"status": {"backlog": 1}, "spec": {"queues": ["x"]}},
                                                      _content_type=MERGE)  # fmt: skip
    after_status = kube.resource("wa")
    assert int(after_status["metadata"]["resourceVersion"]) > int(first["resourceVersion"])
    assert after_status["spec"]["queues"] == ["q"]  # /status changes the status only
    assert after_status["metadata"]["generation"] == 1
    kube.patch_spec("wa", maxReplicas=3)
    assert kube.resource("wa")["metadata"]["generation"] == 2


def test_a_stale_resource_version_is_a_conflict(kube: Kube) -> None:
    kube.deployment("w", replicas=1)
    scale = kube.apps.read_namespaced_deployment_scale("w", "default")
    assert (scale.kind, scale.api_version, scale.spec.replicas) == ("Scale", "autoscaling/v1", 1)
    stale = {"spec": {"replicas": 5}, "metadata": {"resourceVersion": scale.metadata.resource_version}}
    kube.apps.patch_namespaced_deployment_scale("w", "default", stale, _content_type=MERGE)
    with pytest.raises(ApiException) as lost:
        kube.apps.patch_namespaced_deployment_scale("w", "default", stale, _content_type=MERGE)
    assert lost.value.status == 409
    assert kube.replicas("w") == 5


def test_put_replaces_objects_and_subresources(kube: Kube) -> None:
    kube.deployment("w", replicas=1)
    scale = kube.apps.read_namespaced_deployment_scale("w", "default")
    scale.spec.replicas = 7
    kube.apps.replace_namespaced_deployment_scale("w", "default", scale)
    assert kube.replicas("w") == 7
    deployment = kube.apps.read_namespaced_deployment("w", "default")
    deployment.metadata.labels = {"tier": "jobs"}
    replaced = kube.apps.replace_namespaced_deployment("w", "default", deployment)
    assert replaced.metadata.labels == {"tier": "jobs"}


def test_a_created_crd_is_established_and_discoverable(kube: Kube) -> None:
    crd = kube.extensions.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    assert {c.type: c.status for c in crd.status.conditions}["Established"] == "True"
    discovered = {r["name"]: r for r in get_json(kube, f"/apis/{GROUP}/{VERSION}")["resources"]}
    assert discovered[PLURAL]["kind"] == "WorkerAutoscaler"
    assert discovered[PLURAL]["shortNames"] == ["wa"]
    assert discovered[PLURAL]["namespaced"] is True
    assert discovered[f"{PLURAL}/status"]["shortNames"] == []  # else kubectl warns that "wa" is ambiguous
    listing = kube.custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    assert (listing["kind"], listing["apiVersion"]) == ("WorkerAutoscalerList", f"{GROUP}/{VERSION}")


def test_core_discovery_and_version(kube: Kube) -> None:
    core = get_json(kube, "/api/v1")
    assert core["groupVersion"] == "v1"
    scale = next(r for r in core["resources"] if r["name"] == "replicationcontrollers/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert get_json(kube, "/version/")["gitVersion"]


def test_tables_for_kubectl_use_the_printer_columns(kube: Kube) -> None:
    kube.autoscaler("wa", targetDeployment="w", queues=["q"])
    kube.custom.patch_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "wa",
                                                      {"status": {"queueList": "q", "backlog": 12}},
                                                      _content_type=MERGE)  # fmt: skip
    table = get_json(kube, f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}",
                     accept="application/json;as=Table;v=v1;g=meta.k8s.io,application/json")  # fmt: skip
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Queues", "Backlog", "Active", "Desired", "Replicas", "Age"]
    assert table["rows"][0]["cells"][:4] == ["wa", "q", 12, None]
    assert table["rows"][0]["cells"][-1].endswith("s")


def test_errors_use_kubernetes_reasons(kube: Kube) -> None:
    with pytest.raises(ApiException) as missing:
        kube.apps.read_namespaced_deployment_scale("nope", "default")
    assert missing.value.status == 404
    assert '"reason": "NotFound"' in str(missing.value.body)
