"""The operator running for real: kopf and the handlers, an emulated Kubernetes API over HTTP, a real Redis.

The main test installs what the Helm chart renders (the worker Deployment and the default
WorkerAutoscaler, with short timings through the chart's values), then checks that replicas
follow the queue, what the status, the events and `kubectl get` show, and that every request
the operator made is allowed by the chart's RBAC rules.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import helm_python
import httpx
import pytest
import yaml

from dtq.registry import App
from dtq.settings import Settings
from dtq.sync import SyncClient
from dtq.task import TaskRequest
from dtq.worker import Worker
from tests.conftest import make_settings
from tests.operator.conftest import ROOT, OperatorThread, operator_settings
from tests.operator.conftest import Kube as KubeFixture
from tests.operator.emulator import wait_for
from tests.support.redis_server import RedisServer

RELEASE = "rel"
NAMESPACE = "jobs"
QUEUE = "reports"
POLL = 1  # pollInterval; the smallest the CRD allows
COOLDOWN = 3
CHART_VALUES = {
    "worker": {"queues": [QUEUE]},
    "operator": {"autoscaler": {"backlogPerReplica": 10, "minReplicas": 0, "maxReplicas": 5, "pollInterval": POLL,
                                "scaleDownStabilization": 1, "cooldown": COOLDOWN}},
}  # fmt: skip
OPERATOR_AGENTS = ("kopf/", "dtq-operator/")
VERBS = {"LIST": "list", "WATCH": "watch", "FETCH": "get", "CREATE": "create", "UPDATE": "patch", "DELETE": "delete"}


@pytest.fixture(scope="module")
def chart() -> list[dict[str, Any]]:
    rendered = helm_python.Chart.load(ROOT / "charts" / "dtq").render(CHART_VALUES, name=RELEASE, namespace=NAMESPACE)
    return [doc for path, text in sorted(rendered.items()) if path.endswith(".yaml")
            for doc in yaml.safe_load_all(text) if doc]  # fmt: skip


def rendered(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"the chart renders {len(found)} {kind} {name or ''}"
    return found[0]


def enqueue(settings: Settings, queue: str, count: int) -> None:
    with SyncClient(settings) as client:
        client.enqueue_many([TaskRequest(task="echo", queue=queue) for _ in range(count)])


def drain(settings: Settings, queue: str) -> None:
    asyncio.run(Worker(App(builtins=True), settings, queues=[queue], concurrency=8, burst=True).run())


@pytest.mark.namespace(NAMESPACE)
def test_the_chart_autoscaler_follows_the_queue_up_down_and_to_zero(
    kube: KubeFixture, settings: Settings, chart: list[dict[str, Any]]
) -> None:
    scaler = rendered(chart, "WorkerAutoscaler")
    name = scaler["metadata"]["name"]
    worker = rendered(chart, "Deployment", scaler["spec"]["targetDeployment"])
    kube.apply(worker)
    kube.apply(scaler)
    assert kube.replicas(worker["metadata"]["name"]) == 1  # the chart leaves replicas to the autoscaler
    target = worker["metadata"]["name"]

    with OperatorThread(operator_settings(settings, NAMESPACE)):
        # An idle pool keeps its replica through the cooldown, then goes to zero.
        started = time.monotonic()
        wait_for(lambda: kube.replicas(target) == 0, timeout=COOLDOWN + 5, what="an idle pool to reach zero")
        assert time.monotonic() - started >= COOLDOWN - 0.1
        # The Deployment is scaled before the status is written, so wait for the status too.
        reason = wait_for(lambda: kube.status(name).get("lastScaleReason"), timeout=3)
        assert re.fullmatch(rf"nothing ready or active for \d+s \(cooldown {COOLDOWN}s\)", reason), reason

        # A backlog wakes it within one poll: ceil(35 / 10) = 4.
        enqueue(settings, QUEUE, 35)
        pushed = time.monotonic()
        wait_for(lambda: kube.replicas(target) == 4, timeout=POLL + 3, what="replicas to rise to 4")
        assert time.monotonic() - pushed <= POLL + 1.0
        status = wait_for(lambda: (s := kube.status(name)).get("currentReplicas") == 4 and s, timeout=3)
        assert (status["queueList"], status["backlog"], status["active"], status["desiredReplicas"]) == (
            QUEUE,
            35,
            0,
            4,
        )
        assert status["lastScaleReason"].startswith("waking up: 35 tasks (35 ready + 0 active) at 10 per replica")
        assert status["observedGeneration"] == 1
        assert kube.condition(name, "RedisReachable")["status"] == "True"
        assert kube.condition(name, "Scaling")["status"] == "True"
        assert_kubectl_columns(kube, name, [name, QUEUE, "35", "0", "4", "4"])

        # Drained: down to one replica once the window has passed, then zero after the cooldown.
        drain(settings, QUEUE)
        drained = time.monotonic()
        wait_for(lambda: kube.replicas(target) == 0, timeout=COOLDOWN + 5, what="a drained pool to reach zero")
        assert time.monotonic() - drained >= COOLDOWN - 1.0

    history = kube.replica_history(target)
    assert history[:3] == [None, 0, 4]
    assert history[-2:] == [1, 0]
    assert history[2:] == sorted(history[2:], reverse=True)  # no flapping on the way down
    events = [(e.type, e.reason) for e in kube.events() if e.involved_object.name == name]
    assert events[0] == ("Normal", "ScaledToZero")
    assert events[1] == ("Normal", "ScaledUp")
    assert events[-1] == ("Normal", "ScaledToZero")
    assert {reason for _, reason in events[2:-1]} == {"ScaledDown"}
    final = kube.status(name)
    assert (final["desiredReplicas"], final["currentReplicas"], final["backlog"]) == (0, 0, 0)
    assert_requests_allowed_by_the_chart_rbac(kube, chart, target)


def assert_kubectl_columns(kube: KubeFixture, name: str, expected: list[str]) -> None:
    assert shutil.which("kubectl"), "kubectl is not installed: `make system-packages` installs it"
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(kube.kubeconfig), "--cache-dir", str(kube.kubeconfig.parent / "kubectl-cache"),
         "get", "workerautoscalers"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["NAME", "QUEUES", "BACKLOG", "ACTIVE", "DESIRED", "REPLICAS", "AGE"]
    row = next(r.split() for r in rows if r.split()[0] == name)
    assert row[:-1] == expected
    assert row[-1].endswith("s")


def assert_requests_allowed_by_the_chart_rbac(kube: KubeFixture, chart: list[dict[str, Any]], target: str) -> None:
    """Every request the operator sent is allowed by the chart's Role (its namespace) or ClusterRole."""
    role = rendered(chart, "Role", f"{RELEASE}-dtq-operator")["rules"]
    cluster_role = rendered(chart, "ClusterRole")["rules"]
    seen = set()
    for request in kube.emulator.requests():
        if not request.headers.get("User-Agent", "").startswith(OPERATOR_AGENTS):
            continue
        if request.resource is None or request.resource.plural is None:
            continue  # discovery, which every authenticated client may read
        verb = "update" if request.method == "PUT" else VERBS[request.action.name]
        group, resource = request.resource.group, request.resource.plural
        if request.subresource:
            resource += "/" + request.subresource
        rules = cluster_role + (role if request.namespace == NAMESPACE else [])
        granted = any(
            group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
            and (not rule.get("resourceNames") or request.name in rule["resourceNames"])
            for rule in rules
        )  # fmt: skip
        assert granted, f"the chart's RBAC does not allow {verb} {group or 'core'}/{resource} {request.name or ''}"
        seen.add((verb, group, resource))
    assert {("get", "apps", "deployments/scale"), ("patch", "apps", "deployments/scale"),
            ("patch", "dtq.dev", "workerautoscalers/status"), ("watch", "dtq.dev", "workerautoscalers"),
            ("create", "", "events"), ("watch", "", "namespaces")} <= seen  # fmt: skip
    assert target in rendered(chart, "Role", f"{RELEASE}-dtq-operator")["rules"][0]["resourceNames"]


def test_a_spec_edit_takes_effect_at_once_and_an_invalid_one_is_a_condition(
    kube: KubeFixture, settings: Settings
) -> None:
    kube.deployment("workers", replicas=0)
    enqueue(settings, "emails", 500)
    kube.autoscaler("workers", targetDeployment="workers", queues=["emails"], maxReplicas=10,
                    pollInterval=600, scaleDownStabilization=0)  # fmt: skip
    with OperatorThread(operator_settings(settings, "default")):
        wait_for(lambda: kube.replicas("workers") == 5, timeout=5, what="the first look to scale to 5")
        kube.patch_spec("workers", maxReplicas=2)  # the next poll is 10 minutes away: only the update handler helps
        wait_for(lambda: kube.replicas("workers") == 2, timeout=5, what="the new maxReplicas to apply")
        wait_for(lambda: kube.status("workers").get("observedGeneration") == 2, timeout=5)

        kube.patch_spec("workers", minReplicas=3)
        scaling = wait_for(lambda: (c := kube.condition("workers", "Scaling")).get("reason") == "InvalidSpec" and c,
                           timeout=5)  # fmt: skip
        assert scaling["status"] == "False"
        assert "maxReplicas (2) is below minReplicas (3)" in scaling["message"]
        assert kube.replicas("workers") == 2
    warnings = [(e.reason, e.message) for e in kube.events() if e.type == "Warning"]
    assert ("InvalidSpec", scaling["message"]) in warnings


def test_redis_down_holds_the_replicas_and_recovery_resumes_scaling(
    kube: KubeFixture, tmp_path: Path, prefix: str
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        settings = make_settings(server.url, prefix, tmp_path, redis={"connect_timeout": 0.3, "socket_timeout": 0.3})
        enqueue(settings, "emails", 250)
        kube.deployment("workers", replicas=3)
        kube.autoscaler("workers", targetDeployment="workers", queues=["emails"], pollInterval=1,
                        scaleDownStabilization=0, cooldown=0)  # fmt: skip
        with OperatorThread(operator_settings(settings, "default")):
            wait_for(lambda: kube.status("workers").get("backlog") == 250, timeout=10, what="a first look")
            server.stop()
            down = wait_for(lambda: (c := kube.condition("workers", "RedisReachable")).get("status") == "False" and c,
                            timeout=10)  # fmt: skip
            assert down["reason"] == "RedisUnavailable"
            patched = len(status_patches(kube))
            wait_for(lambda: len(status_patches(kube)) >= patched + 2, timeout=10, what="two more looks")
            assert kube.replicas("workers") == 3  # held, though an empty queue would mean zero
            assert kube.condition("workers", "Scaling")["reason"] == "RedisUnavailable"

            server.start()  # with no data: the queue is now empty, so the pool goes to zero
            wait_for(lambda: kube.replicas("workers") == 0, timeout=10, what="scaling to resume")
            # The scale and the status are two patches; the status may land a moment later.
            wait_for(lambda: kube.condition("workers", "RedisReachable")["status"] == "True", timeout=10,
                     what="the condition to follow")  # fmt: skip
        reasons = [(e.type, e.reason) for e in kube.events()]
        assert ("Warning", "RedisUnavailable") in reasons
        assert ("Normal", "QueuesRead") in reasons
    finally:
        server.stop()


def status_patches(kube: KubeFixture) -> list[Any]:
    requests = kube.emulator.requests()
    mine = [r for r in requests if r.headers.get("User-Agent", "").startswith("dtq-operator/")]
    return [r for r in mine if r.method == "PATCH" and r.subresource == "status"]


@pytest.mark.usefixtures("kube")
def test_the_liveness_endpoint_answers_when_a_port_is_set(settings: Settings) -> None:
    from tests.support.redis_server import free_port

    port = free_port()
    live = operator_settings(settings, "default").with_changes(operator={"liveness_port": port})
    with OperatorThread(live):
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert response.status_code == 200
