"""Every `ci/` scenario renders, parses, validates against Kubernetes' own schemas and lints clean."""

from __future__ import annotations

import re
import subprocess

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from dtq.settings import ApiSettings
from services.api.auth import Role, Tokens
from tests.chart.rendering import (
    CHART,
    NAMESPACE,
    RELEASE,
    REPO,
    SCENARIOS,
    render,
    render_scenario,
    scenario_values,
)

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and a current one.
KUBE_VERSIONS = ["1.27.0", "1.36.0"]
# Kinds whose schema is not Kubernetes' own: checked against their CRD or by hand instead.
CUSTOM_KINDS = {"WorkerAutoscaler", "ServiceMonitor"}


def test_every_scenario_is_listed() -> None:
    assert {
        "default-values.yaml",
        "external-redis-values.yaml",
        "operator-off-values.yaml",
        "ingress-tokens-netpol-values.yaml",
    } <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_renders_objects_with_kind_name_and_namespace(scenario: str) -> None:
    rendered = render_scenario(scenario)
    assert len(rendered.objects) >= 10
    seen = set()
    for obj in rendered.objects:
        assert obj.get("apiVersion") and obj.get("kind"), obj
        key = (obj["kind"], obj["metadata"]["name"])
        assert key not in seen, f"{key} rendered twice"
        seen.add(key)
        if obj["kind"] not in {"ClusterRole", "ClusterRoleBinding"}:
            assert obj["metadata"]["namespace"] == NAMESPACE, key


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_objects_validate_strictly_against_kubernetes_schemas(scenario: str, version: str) -> None:
    problems = []
    for obj in render_scenario(scenario).objects:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert not problems, "\n".join(problems)


def test_strict_validation_catches_a_misspelled_field() -> None:
    deployment = next(o for o in render_scenario("default-values.yaml").objects if o["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError, match="replica"):
        kubernetes_validate.validate(broken, KUBE_VERSIONS[0], strict=True)


def test_oldest_validated_version_is_the_charts_floor() -> None:
    floor = re.match(r">=\s*(\d+\.\d+)", yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"])
    assert floor is not None
    assert KUBE_VERSIONS[0].startswith(floor.group(1) + ".")


def test_service_monitor_is_well_formed() -> None:
    rendered = render_scenario("ingress-tokens-netpol-values.yaml")
    [monitor] = rendered.of_kind("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    service = rendered.get("Service", "dtq-api")
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    # Once tokens exist Prometheus presents one: the first viewer token, though an admin one comes first.
    credentials = endpoint["authorization"]["credentials"]
    assert endpoint["authorization"]["type"] == "Bearer"
    assert credentials == {"name": "dtq-api-tokens", "key": "metrics-token"}
    assert rendered.secret_value("dtq-api-tokens", "metrics-token") == "viewer-token-0123456789abcd"


def test_service_monitor_without_a_viewer_token_scrapes_with_a_generated_viewer_token() -> None:
    tokens = [{"token": "p" * 20, "role": "producer"}, {"token": "a" * 20, "role": "admin"}]
    rendered = render({"serviceMonitor": {"enabled": True}, "api": {"auth": {"tokens": tokens}}})
    [monitor] = rendered.of_kind("ServiceMonitor")
    credentials = monitor["spec"]["endpoints"][0]["authorization"]["credentials"]
    assert credentials == {"name": "dtq-api-tokens", "key": "metrics-token"}
    scraper = rendered.secret_value("dtq-api-tokens", "metrics-token")
    assert scraper not in {"p" * 20, "a" * 20}
    # The API, reading the Secret's token list as it does in the pod, takes it for a viewer.
    listed = rendered.secret_value("dtq-api-tokens", "tokens")
    api_tokens = Tokens.from_settings(ApiSettings(tokens=listed))
    principal = api_tokens.identify(scraper)
    assert principal is not None and principal.role is Role.VIEWER
    assert listed.startswith("p" * 20 + ":producer,")  # the first token (NOTES, helm test) is still the user's
    assert rendered.secret_value("dtq-api-tokens", "generated-viewer-token") == scraper


def test_no_token_is_generated_without_a_service_monitor_or_with_a_viewer() -> None:
    producer = [{"token": "p" * 20, "role": "producer"}]
    admin = [*producer, {"token": "a" * 20, "role": "admin"}]
    unmonitored = render({"api": {"auth": {"tokens": admin}}}).get("Secret", "dtq-api-tokens")["data"]
    assert set(unmonitored) == {"tokens"}  # and the admin token is not offered as metrics-token
    viewer = [*producer, {"token": "v" * 20, "role": "viewer"}]
    rendered = render({"serviceMonitor": {"enabled": True}, "api": {"auth": {"tokens": viewer}}})
    assert rendered.secret_value("dtq-api-tokens", "metrics-token") == "v" * 20
    assert rendered.secret_value("dtq-api-tokens", "tokens") == f"{'p' * 20}:producer,{'v' * 20}:viewer"


def test_service_monitor_token_without_tokens_or_from_a_named_secret() -> None:
    [open_api] = render({"serviceMonitor": {"enabled": True}}).of_kind("ServiceMonitor")
    assert "authorization" not in open_api["spec"]["endpoints"][0]
    values = {
        "serviceMonitor": {"enabled": True, "tokenSecret": {"name": "prom-dtq", "key": "t"}},
        "api": {"auth": {"existingSecret": "dtq-tokens"}},
    }
    [named] = render(values).of_kind("ServiceMonitor")
    assert named["spec"]["endpoints"][0]["authorization"]["credentials"] == {"name": "prom-dtq", "key": "t"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint_is_clean(scenario: str) -> None:
    report = helm.lint(CHART, scenario_values(scenario), strict=True, namespace=NAMESPACE)
    # Severity 1 is information (Helm always suggests an icon); 2 and 3 are warnings and errors.
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], problems or report["errors"]


def test_helm_lint_reports_a_values_typo() -> None:
    report = helm.lint(CHART, {"worker": {"replicas": 3}}, strict=True)
    assert any(m["severity"] == 3 and "replicas" in m["error"] for m in report["messages"]), report


def test_client_dry_run_install_parses_and_prints_notes() -> None:
    with helm.Config(storage_driver="memory", namespace=NAMESPACE) as config:
        release = config.install(CHART, RELEASE, {}, namespace=NAMESPACE, dry_run="client")
    assert "kind: Deployment" in release["manifest"]
    assert "port-forward service/dtq-api 3000:3000" in release["notes"]


def _lint_config() -> YamlLintConfig:
    return YamlLintConfig(file=str(REPO / ".yamllint.yaml"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rendered_manifests_pass_yamllint(scenario: str) -> None:
    config = _lint_config()
    problems = []
    for path, text in render_scenario(scenario).texts.items():
        if path.endswith(".yaml") and text.strip():
            # As `helm template` prints it: each manifest trimmed, then a newline.
            printed = f"# Source: {path}\n{text.strip()}\n"
            problems += [f"{path}:{p.line}: {p.message}" for p in linter.run(printed, config)]
    assert not problems, "\n".join(problems)


def test_plain_yaml_files_pass_yamllint() -> None:
    config = _lint_config()
    files = [
        CHART / "Chart.yaml",
        CHART / "values.yaml",
        REPO / "skaffold.yaml",
        REPO / ".yamllint.yaml",
        *sorted((CHART / "ci").glob("*.yaml")),
        *sorted((CHART / "crds").glob("*.yaml")),
    ]
    problems = []
    for path in files:
        problems += [f"{path.relative_to(REPO)}:{p.line}: {p.message}" for p in linter.run(path.read_text(), config)]
    assert not problems, "\n".join(problems)


def test_yamllint_config_catches_problems() -> None:
    found = list(linter.run("a: 1\na: 2\nb:  [x,y]\n", _lint_config()))
    assert any("duplication" in p.message for p in found)


def test_notes_tell_how_to_reach_the_api_and_send_a_first_task() -> None:
    notes = render_scenario("default-values.yaml").notes
    assert f"kubectl --namespace {NAMESPACE} port-forward service/dtq-api 3000:3000" in notes
    assert "curl -sS -X POST http://127.0.0.1:3000/tasks" in notes
    assert '"task": "echo"' in notes
    assert f"helm test {RELEASE}" in notes
    assert "Authorization" not in notes


def test_notes_with_ingress_and_tokens_use_the_host_and_the_token_secret() -> None:
    notes = render_scenario("ingress-tokens-netpol-values.yaml").notes
    assert "https://dtq.example.com/tasks" in notes
    assert "get secret dtq-api-tokens" in notes
    assert "Authorization: Bearer $TOKEN" in notes
    assert "port-forward" not in notes


def test_notes_token_pipeline_yields_the_first_token() -> None:
    rendered = render_scenario("ingress-tokens-netpol-values.yaml")
    line = next(line for line in rendered.notes.splitlines() if "TOKEN=$(" in line)
    pipeline = line.split("-o jsonpath='{.data.tokens}' | ", 1)[1].rstrip(")")
    data = rendered.get("Secret", "dtq-api-tokens")["data"]["tokens"]
    result = subprocess.run(["sh", "-c", f"printf %s {data} | {pipeline}"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "producer-token-0123456789"


def test_notes_without_api_skip_the_curl() -> None:
    notes = render({"api": {"enabled": False}}).notes
    assert "curl" not in notes and "helm test" not in notes
    assert "dtq queues" in notes
