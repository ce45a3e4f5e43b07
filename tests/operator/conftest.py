"""Fixtures for the operator: a Kubernetes API emulator over HTTP, and the operator running for real.

The emulator runs in a thread of its own; the operator (kopf, with the real handlers) in another,
with its own event loop, reading `$KUBECONFIG` like it would outside a cluster; the tests talk to
the emulator with the blocking `kubernetes` client (under a user agent of their own, so the
requests the operator made can be told apart) and poll for conditions with deadlines.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dtq_operator.main import operate
from dtq_operator.model import GROUP, PLURAL, VERSION
from kubernetes import client

from dtq.settings import OperatorSettings, Settings
from tests.operator.emulator import EmulatorThread, wait_for

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "charts" / "dtq" / "crds" / "workerautoscalers.dtq.dev.yaml"
TEST_AGENT = "dtq-tests"
MERGE = "application/merge-patch+json"


class Kube:
    """The test's own view of the emulated cluster (blocking client calls)."""

    def __init__(self, emulator: EmulatorThread, kubeconfig: Path, namespace: str) -> None:
        configuration = client.Configuration()
        configuration.host = emulator.url
        api = client.ApiClient(configuration)
        api.user_agent = TEST_AGENT
        self.emulator = emulator
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.extensions = client.ApiextensionsV1Api(api)

    def apply(self, doc: dict[str, Any]) -> None:
        """Create one manifest (the kinds the operator tests use)."""
        kind = doc["kind"]
        if kind == "CustomResourceDefinition":
            self.extensions.create_custom_resource_definition(doc)
        elif kind == "Namespace":
            self.core.create_namespace(doc)
        elif kind == "Deployment":
            self.apps.create_namespaced_deployment(self.namespace, doc)
        elif kind == "WorkerAutoscaler":
            self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, doc)
        else:
            raise ValueError(f"no create for {kind}")

    def deployment(self, name: str, replicas: int | None = None) -> None:
        """A minimal worker Deployment (without `replicas`, the server's default of 1 applies)."""
        labels = {"app": name}
        pod = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "worker", "image": "dtq:test"}]}}
        spec: dict[str, Any] = {"selector": {"matchLabels": labels}, "template": pod}
        if replicas is not None:
            spec["replicas"] = replicas
        self.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec})

    def autoscaler(self, name: str, **spec: Any) -> None:
        self.apply({"apiVersion": f"{GROUP}/{VERSION}", "kind": "WorkerAutoscaler", "metadata": {"name": name},
                    "spec": spec})  # fmt: skip

    def replicas(self, deployment: str) -> int:
        scale = self.apps.read_namespaced_deployment_scale(deployment, self.namespace)
        assert scale.spec is not None and scale.spec.replicas is not None
        return scale.spec.replicas

    def stored_replicas(self, deployment: str) -> int:
        """spec.replicas as stored, read inside the emulator (no request: for tight polling loops)."""

        def read(emulator: Any) -> int:
            spec = emulator.objects["apps/v1/deployments", self.namespace, deployment].raw.get("spec") or {}
            return int(spec.get("replicas", 1))

        return self.emulator.call(read)

    def replica_history(self, deployment: str) -> list[int | None]:
        """spec.replicas of every stored version of the Deployment, oldest first (None: unset)."""

        def versions(emulator: Any) -> list[int | None]:
            obj = emulator.objects["apps/v1/deployments", self.namespace, deployment]
            return [(v.raw.get("spec") or {}).get("replicas") for v in obj.history if v is not None]

        return self.emulator.call(versions)

    def resource(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)
        return found

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.resource(name).get("status") or {})

    def condition(self, name: str, kind: str) -> dict[str, Any]:
        return next((c for c in self.status(name).get("conditions", []) if c["type"] == kind), {})

    def patch_spec(self, name: str, **spec: Any) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, {"spec": spec}, _content_type=MERGE
        )

    def events(self) -> list[client.CoreV1Event]:
        return list(self.core.list_namespaced_event(self.namespace).items)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "namespace(name): the namespace the emulated cluster starts with")


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Kube]:
    """An emulated cluster with the namespace (`@pytest.mark.namespace`, else `default`) and the CRD."""
    marker = request.node.get_closest_marker("namespace")
    namespace = marker.args[0] if marker else "default"
    with EmulatorThread() as emulator:
        kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig", namespace=namespace)
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        kube = Kube(emulator, kubeconfig, namespace)
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        kube.apply(yaml.safe_load(CRD_FILE.read_text()))
        yield kube


class OperatorThread:
    """`dtq_operator.main.operate()` in a thread with its own event loop, stopped on exit."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name="operator", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(operate(self.settings, stop_flag=self.stop, ready_flag=self.ready))
        except BaseException as exc:
            self.failure = exc
            raise

    def __enter__(self) -> OperatorThread:
        self.thread.start()
        wait_for(lambda: self.ready.is_set() or self.failure is not None, timeout=15, what="the operator to start")
        if self.failure is not None:
            raise RuntimeError("the operator failed to start") from self.failure
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the operator did not stop within 30s"
        assert self.failure is None, f"the operator crashed: {self.failure!r}"


def operator_settings(settings: Settings, namespace: str) -> Settings:
    """The test's settings (Redis, key prefix) for an operator watching `namespace` only."""
    return settings.model_copy(update={"operator": OperatorSettings(namespace=namespace, standalone=True)})
