"""Every call the operator makes to Kubernetes itself, with the official `kubernetes` client.

kopf watches the custom resources; this module does the rest: read and merge-patch the target
Deployment's `scale` subresource (never the Deployment itself), merge-patch the custom
resource's `status`, and post events. The calls are blocking; the kopf layer runs them in a
thread. `connect()` builds both kopf's credentials and this client's from one source: the pod's
service account in a cluster, else the kubeconfig named by `$KUBECONFIG` (read when called, not
at import, so tests can point it at an emulator).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import kopf
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from dtq_operator.model import GROUP, KIND, PLURAL, VERSION

MERGE_PATCH = "application/merge-patch+json"
_load_incluster: Callable[..., None] = config.load_incluster_config  # the loaders are not annotated
_load_kubeconfig: Callable[..., None] = config.load_kube_config
COMPONENT = "dtq-operator"
USER_AGENT = f"{COMPONENT}/{metadata.version('dtq')}"


class NoCredentials(Exception):
    """Neither a service account nor a usable kubeconfig was found."""


class Conflict(Exception):
    """The object changed since it was read (HTTP 409): read it again and decide again."""


@dataclass(frozen=True, slots=True)
class Target:
    """The custom resource being served: where it is, and which version of it was seen."""

    namespace: str
    name: str
    uid: str | None = None
    generation: int | None = None


@dataclass(frozen=True, slots=True)
class Scale:
    """A Deployment's replica count and the resource version it was read at."""

    replicas: int
    resource_version: str | None


def connect() -> tuple[kopf.ConnectionInfo, client.ApiClient]:
    """Credentials for kopf and a configured API client, in-cluster or from the kubeconfig."""
    configuration = client.Configuration()
    try:
        _load_incluster(client_configuration=configuration)
    except config.ConfigException:
        try:
            _load_kubeconfig(config_file=os.environ.get("KUBECONFIG"), client_configuration=configuration)
        except config.ConfigException as exc:
            raise NoCredentials(f"no service account and no usable kubeconfig ($KUBECONFIG): {exc}") from exc
    header = configuration.get_api_key_with_prefix("BearerToken") or configuration.get_api_key_with_prefix(
        "authorization"
    )
    scheme, _, token = (header or "").rpartition(" ")
    info = kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme or ("Bearer" if token else None),
        token=token or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )
    return info, client.ApiClient(configuration)


class Cluster:
    """The Kubernetes calls of one reconcile, on one API client."""

    def __init__(self, api: client.ApiClient) -> None:
        api.user_agent = USER_AGENT
        self.api = api
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.instance = socket.gethostname()

    def read_scale(self, namespace: str, deployment: str) -> Scale:
        """GET the Deployment's scale subresource."""
        scale = self.apps.read_namespaced_deployment_scale(deployment, namespace)
        replicas = scale.spec.replicas if scale.spec is not None and scale.spec.replicas is not None else 0
        version = scale.metadata.resource_version if scale.metadata is not None else None
        return Scale(replicas=replicas, resource_version=version)

    def set_replicas(self, namespace: str, deployment: str, replicas: int, read_at: str | None) -> None:
        """Merge-patch the scale subresource, only if it has not changed since `read_at`."""
        body: dict[str, Any] = {"spec": {"replicas": replicas}}
        if read_at is not None:
            body["metadata"] = {"resourceVersion": read_at}
        try:
            self.apps.patch_namespaced_deployment_scale(deployment, namespace, body, _content_type=MERGE_PATCH)
        except ApiException as exc:
            if exc.status == 409:
                raise Conflict(f"Deployment {namespace}/{deployment} changed while deciding") from exc
            raise

    def patch_status(self, target: Target, status: dict[str, Any]) -> None:
        """Merge-patch the custom resource's status subresource."""
        self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, target.namespace, PLURAL, target.name, {"status": status}, _content_type=MERGE_PATCH
        )

    def post_event(self, target: Target, *, warning: bool, reason: str, message: str) -> None:
        """Record a core/v1 event on the custom resource."""
        now = datetime.now(UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(name=f"{target.name}.{time.time_ns():x}", namespace=target.namespace),
            involved_object=client.V1ObjectReference(
                api_version=f"{GROUP}/{VERSION}", kind=KIND, name=target.name, namespace=target.namespace,
                uid=target.uid,
            ),
            reason=reason,
            message=message[:1024],
            type="Warning" if warning else "Normal",
            first_timestamp=now,
            last_timestamp=now,
            count=1,
            source=client.V1EventSource(component=COMPONENT),
            reporting_component=f"{GROUP}/operator",
            reporting_instance=self.instance,
        )  # fmt: skip
        self.core.create_namespaced_event(target.namespace, event)
