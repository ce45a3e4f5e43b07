"""Conventions every rendered object keeps: labels, selectors, security, probes, resources, PDBs."""

from __future__ import annotations

import pytest

from tests.chart.rendering import SCENARIOS, Rendered, fullname, render, render_scenario

STANDARD_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
}
SELECTOR_LABELS = {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}
# Volume types the restricted Pod Security Standard allows.
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
DTQ_COMPONENTS = {"api", "worker", "scheduler", "operator"}


def component_of(obj: dict) -> str | None:
    return obj["metadata"]["labels"].get("app.kubernetes.io/component")


@pytest.fixture(params=SCENARIOS)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return render_scenario(request.param)


# --- labels and selectors ----------------------------------------------------------------------


def test_every_object_has_the_standard_labels(rendered: Rendered) -> None:
    for obj in rendered.objects:
        labels = obj["metadata"]["labels"]
        assert labels.keys() >= STANDARD_LABELS, (obj["kind"], obj["metadata"]["name"])
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/instance"] == "dtq"


def test_workload_selectors_use_only_stable_labels_and_match_their_pods(rendered: Rendered) -> None:
    for obj, _ in rendered.pods():
        if obj["kind"] == "Pod":
            continue
        selector = obj["spec"]["selector"]["matchLabels"]
        assert selector.keys() == SELECTOR_LABELS, obj["metadata"]["name"]
        pod_labels = obj["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        assert pod_labels.keys() >= STANDARD_LABELS


def test_selectors_of_different_workloads_do_not_overlap(rendered: Rendered) -> None:
    workloads = [o for o, _ in rendered.pods() if o["kind"] != "Pod"]
    for obj in workloads:
        selector = obj["spec"]["selector"]["matchLabels"].items()
        matched = [
            o["metadata"]["name"] for o in workloads if selector <= o["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert matched == [obj["metadata"]["name"]]


def selected_workloads(rendered: Rendered, selector: dict) -> list[str]:
    return [
        o["metadata"]["name"]
        for o, _ in rendered.pods()
        if o["kind"] != "Pod" and selector.items() <= o["spec"]["template"]["metadata"]["labels"].items()
    ]


def test_every_service_and_pdb_selects_exactly_one_workload(rendered: Rendered) -> None:
    for service in rendered.of_kind("Service"):
        assert len(selected_workloads(rendered, service["spec"]["selector"])) == 1, service["metadata"]["name"]
    for pdb in rendered.of_kind("PodDisruptionBudget"):
        assert len(selected_workloads(rendered, pdb["spec"]["selector"]["matchLabels"])) == 1


def test_service_target_ports_exist_on_the_selected_containers(rendered: Rendered) -> None:
    for service in rendered.of_kind("Service"):
        [name] = selected_workloads(rendered, service["spec"]["selector"])
        workload = next(o for o, _ in rendered.pods() if o["metadata"]["name"] == name)
        ports = {p["name"] for c in workload["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports


# --- security ----------------------------------------------------------------------------------


def test_every_pod_meets_the_restricted_pod_security_standard(rendered: Rendered) -> None:
    for obj, spec in rendered.pods():
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        pod = spec.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True, where
        assert pod.get("runAsUser", 1) != 0, where
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), where
        for volume in spec.get("volumes", []):
            kinds = volume.keys() - {"name"}
            assert kinds <= RESTRICTED_VOLUMES, (where, volume)


def test_every_container_has_a_locked_down_security_context(rendered: Rendered) -> None:
    for obj, _, container in rendered.containers():
        where = f"{obj['metadata']['name']}/{container['name']}"
        context = container.get("securityContext", {})
        assert context.get("allowPrivilegeEscalation") is False, where
        assert context.get("privileged", False) is False, where
        assert context.get("readOnlyRootFilesystem") is True, where
        assert context.get("runAsNonRoot") is True, where
        assert "ALL" in context.get("capabilities", {}).get("drop", []), where
        assert not context.get("capabilities", {}).get("add"), where
        assert context.get("seccompProfile", {}).get("type") == "RuntimeDefault", where


def test_read_only_containers_get_a_writable_tmp(rendered: Rendered) -> None:
    for obj, spec, container in rendered.containers():
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert mounts.get("/tmp") in empty_dirs, obj["metadata"]["name"]


def test_worker_health_file_lives_on_the_writable_tmp(rendered: Rendered) -> None:
    worker = rendered.component("worker")
    [container] = worker["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DTQ_WORKER_HEALTH_FILE"].startswith("/tmp/")


def test_only_the_operator_mounts_a_service_account_token(rendered: Rendered) -> None:
    for obj, spec in rendered.pods():
        expected = component_of(obj) == "operator"
        assert spec.get("automountServiceAccountToken") is expected, obj["metadata"]["name"]
    for account in rendered.of_kind("ServiceAccount"):
        if component_of(account) != "operator":
            assert account["automountServiceAccountToken"] is False


def test_operator_uses_its_own_service_account() -> None:
    rendered = render_scenario("default-values.yaml")
    operator = rendered.component("operator")
    account = operator["spec"]["template"]["spec"]["serviceAccountName"]
    assert account == "dtq-operator" and account in rendered.names("ServiceAccount")
    for other in ("api", "worker", "scheduler", "redis"):
        assert rendered.component(other)["spec"]["template"]["spec"]["serviceAccountName"] == "dtq"


# --- resources, probes, images -----------------------------------------------------------------


def test_every_container_requests_cpu_and_memory_and_caps_memory(rendered: Rendered) -> None:
    for obj, _, container in rendered.containers():
        resources = container.get("resources", {})
        assert {"cpu", "memory"} <= resources.get("requests", {}).keys(), obj["metadata"]["name"]
        assert "memory" in resources.get("limits", {}), obj["metadata"]["name"]


@pytest.mark.parametrize("component", ["api", "worker", "scheduler", "operator", "redis"])
def test_resources_are_settable_per_component(component: str) -> None:
    resources = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "3Gi", "cpu": "2"}}
    rendered = render({component: {"resources": resources}})
    [container] = rendered.component(component)["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == resources


def probes(rendered: Rendered, component: str) -> dict:
    [container] = rendered.component(component)["spec"]["template"]["spec"]["containers"]
    return {k: container[k] for k in ("startupProbe", "livenessProbe", "readinessProbe") if k in container}


def test_api_probes_use_healthz_and_readyz_on_the_http_port(rendered: Rendered) -> None:
    found = probes(rendered, "api")
    assert found["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert found["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert found["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_worker_probes_run_the_worker_check(rendered: Rendered) -> None:
    found = probes(rendered, "worker")
    assert found["livenessProbe"]["exec"]["command"] == ["dtq", "worker", "--check"]
    assert found["readinessProbe"]["exec"]["command"] == ["dtq", "worker", "--check"]
    # A probe that spawns Python is not cheap: keep it from running more than every 10 s.
    assert all(p["periodSeconds"] >= 10 and p["timeoutSeconds"] >= 3 for p in found.values())


def test_probes_can_be_turned_off_and_tuned() -> None:
    rendered = render(
        {
            "api": {"livenessProbe": {"enabled": False}, "readinessProbe": {"periodSeconds": 7}},
            "worker": {"readinessProbe": {"enabled": False}},
        }
    )
    api = probes(rendered, "api")
    assert "livenessProbe" not in api and api["readinessProbe"]["periodSeconds"] == 7
    assert set(probes(rendered, "worker")) == {"livenessProbe"}


def test_dtq_containers_run_the_chart_image_and_never_latest(rendered: Rendered) -> None:
    for obj, _, container in rendered.containers():
        assert not container["image"].endswith(":latest") and ":" in container["image"], container["image"]
        if component_of(obj) in DTQ_COMPONENTS | {"test"}:
            assert container["image"] == "dtq:0.1.0"


def test_image_tag_and_digest_come_from_values() -> None:
    tagged = render({"image": {"repository": "registry.example.com/team/dtq", "tag": "1.2.3"}})
    digest = "sha256:" + "ab" * 32
    pinned = render({"image": {"repository": "registry.example.com/team/dtq", "digest": digest}})
    for obj, _, container in tagged.containers():
        if component_of(obj) != "redis":
            assert container["image"] == "registry.example.com/team/dtq:1.2.3"
    images = {c["image"] for o, _, c in pinned.containers() if component_of(o) != "redis"}
    assert images == {f"registry.example.com/team/dtq@{digest}"}


# --- components --------------------------------------------------------------------------------


def test_api_runs_on_port_3000_behind_its_service(rendered: Rendered) -> None:
    [container] = rendered.component("api")["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["api", "--host", "0.0.0.0", "--port", "3000"]
    assert container["ports"] == [{"name": "http", "containerPort": 3000, "protocol": "TCP"}]
    service = rendered.get("Service", f"{fullname(rendered)}-api")
    assert service["spec"]["ports"][0]["port"] == 3000


def test_worker_grace_period_exceeds_its_shutdown_grace_and_hard_deadline(rendered: Rendered) -> None:
    spec = rendered.component("worker")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    drain = float(env["DTQ_WORKER_SHUTDOWN_GRACE"]) + float(env["DTQ_WORKER_SHUTDOWN_HARD_DEADLINE"])
    assert spec["terminationGracePeriodSeconds"] > drain


def test_worker_args_carry_queues_and_concurrency() -> None:
    default = render_scenario("default-values.yaml").component("worker")
    assert default["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker", "--queues", "default"]
    fixed = render_scenario("operator-off-values.yaml").component("worker")
    args = fixed["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == ["worker", "--queues", "default,emails", "--concurrency", "8"]


def test_worker_replicas_belong_to_the_autoscaler_when_the_operator_runs() -> None:
    assert "replicas" not in render_scenario("default-values.yaml").component("worker")["spec"]
    assert render_scenario("operator-off-values.yaml").component("worker")["spec"]["replicas"] == 3
    assert render({"operator": {"autoscaler": {"enabled": False}}}).component("worker")["spec"]["replicas"] == 2


def test_scheduler_runs_two_replicas_by_default() -> None:
    scheduler = render_scenario("default-values.yaml").component("scheduler")
    assert scheduler["spec"]["replicas"] == 2
    assert scheduler["spec"]["template"]["spec"]["containers"][0]["args"] == ["scheduler"]


def test_operator_is_a_single_recreated_standalone_replica() -> None:
    operator = render_scenario("default-values.yaml").component("operator")
    assert operator["spec"]["replicas"] == 1
    assert operator["spec"]["strategy"] == {"type": "Recreate"}
    [container] = operator["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["operator"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DTQ_OPERATOR_STANDALONE"]["value"] == "true"
    assert env["DTQ_OPERATOR_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_operator_off_renders_no_operator_objects() -> None:
    rendered = render_scenario("operator-off-values.yaml")
    assert not [o for o in rendered.objects if component_of(o) == "operator"]
    assert not rendered.of_kind("WorkerAutoscaler") and not rendered.of_kind("ClusterRole")


@pytest.mark.parametrize("component", ["api", "worker", "scheduler", "operator"])
def test_components_can_be_disabled(component: str) -> None:
    values: dict = {component: {"enabled": False}}
    if component == "worker":
        values["operator"] = {"autoscaler": {"enabled": False}}
    rendered = render(values)
    assert not [o for o in rendered.objects if component_of(o) == component]


def test_placement_knobs_reach_the_pod() -> None:
    placement = {
        "nodeSelector": {"pool": "workers"},
        "tolerations": [{"key": "k", "operator": "Exists"}],
        "priorityClassName": "high",
        "podAnnotations": {"a": "b"},
        "podLabels": {"team": "x"},
        "affinity": {"podAntiAffinity": {}},
    }
    worker = render({"worker": placement}).component("worker")["spec"]["template"]
    spec = worker["spec"]
    assert spec["nodeSelector"] == {"pool": "workers"} and spec["priorityClassName"] == "high"
    assert spec["tolerations"] == placement["tolerations"] and spec["affinity"] == placement["affinity"]
    assert worker["metadata"]["annotations"]["a"] == "b" and worker["metadata"]["labels"]["team"] == "x"


# --- disruption budgets ------------------------------------------------------------------------


def test_api_worker_and_scheduler_have_disruption_budgets() -> None:
    rendered = render_scenario("default-values.yaml")
    budgets = {component_of(p): p["spec"] for p in rendered.of_kind("PodDisruptionBudget")}
    assert set(budgets) == {"api", "worker", "scheduler"}
    assert all(spec["maxUnavailable"] == 1 for spec in budgets.values())


def test_min_available_wins_and_budgets_can_be_turned_off() -> None:
    budget = render_scenario("operator-off-values.yaml").get("PodDisruptionBudget", "dtq-worker")["spec"]
    assert budget["minAvailable"] == 2 and "maxUnavailable" not in budget
    rendered = render({"api": {"pdb": {"enabled": False}}})
    assert "dtq-api" not in rendered.names("PodDisruptionBudget")


# --- ingress and the helm test pod -------------------------------------------------------------


def test_ingress_routes_to_the_api_service() -> None:
    rendered = render_scenario("ingress-tokens-netpol-values.yaml")
    [ingress] = rendered.of_kind("Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"secretName": "dtq-example-tls", "hosts": ["dtq.example.com"]}]
    [rule] = ingress["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "dtq-api", "port": {"name": "http"}}
    assert not render_scenario("default-values.yaml").of_kind("Ingress")


def test_helm_test_pod_checks_readyz_and_enqueues_an_echo_task(rendered: Rendered) -> None:
    [pod] = rendered.of_kind("Pod")
    annotations = pod["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "test"
    assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"]
    assert pod["spec"]["restartPolicy"] == "Never"
    [container] = pod["spec"]["containers"]
    script = container["args"][0]
    assert '"/readyz"' in script and '"POST", "/tasks"' in script and '"task": "echo"' in script
    env = {e["name"]: e for e in container["env"]}
    assert env["API_URL"]["value"] == f"http://{fullname(rendered)}-api:3000"
