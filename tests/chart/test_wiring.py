"""How the rendered objects connect: settings, secrets, Redis, operator RBAC, network policies."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from dtq.settings import env_names
from tests.chart.rendering import NAMESPACE, SCENARIOS, Rendered, render, render_scenario

# The operator's permissions as issue 4 specifies them, and nothing more.
OPERATOR_ROLE_RULES = [
    {
        "apiGroups": ["apps"],
        "resources": ["deployments/scale"],
        "resourceNames": ["dtq-worker"],
        "verbs": ["get", "patch"],
    },
    {"apiGroups": ["dtq.dev"], "resources": ["workerautoscalers"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": ["dtq.dev"], "resources": ["workerautoscalers/status"], "verbs": ["get", "patch", "update"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
]
OPERATOR_CLUSTER_RULES = [
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["list", "watch"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
]


def dtq_containers(rendered: Rendered) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) for the containers that run `dtq` (not Redis, not the test pod)."""
    return [
        (o, c)
        for o, _, c in rendered.containers()
        if o["metadata"]["labels"]["app.kubernetes.io/component"] in {"api", "worker", "scheduler", "operator"}
    ]


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_dtq_variable_the_chart_renders_is_a_real_setting(scenario: str) -> None:
    rendered = render_scenario(scenario)
    known = env_names()
    names = set(rendered.config())
    for _, container in dtq_containers(rendered):
        names |= {e["name"] for e in container.get("env", [])}
    dtq_names = {n for n in names if n.startswith("DTQ_")}
    assert dtq_names, "expected DTQ_ settings"
    assert dtq_names <= known.keys(), sorted(dtq_names - known.keys())


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_dtq_container_reads_the_settings_config_map(scenario: str) -> None:
    rendered = render_scenario(scenario)
    config_map = next(n for n in rendered.names("ConfigMap") if n.endswith("-config"))
    for obj, container in dtq_containers(rendered):
        assert container["envFrom"] == [{"configMapRef": {"name": config_map}}], obj["metadata"]["name"]


def test_config_block_becomes_config_map_keys_with_plain_numbers() -> None:
    config = render_scenario("operator-off-values.yaml").config()
    assert config["DTQ_APP"] == "myapp.tasks:app"
    assert config["DTQ_API_MAX_BODY_BYTES"] == "4194304"  # not 4.194304e+06
    assert config["DTQ_TASKS_TIMEOUT"] == "120.5"
    assert config["DTQ_REDIS_ALLOW_EVICTION"] == "false"
    assert config["DTQ_LOG_LEVEL"] == "DEBUG"


def test_a_config_key_set_to_null_is_dropped() -> None:
    assert "DTQ_LOG_LEVEL" not in render({"config": {"DTQ_LOG_LEVEL": None}}).config()


def test_config_changes_roll_the_pods() -> None:
    def checksums(rendered: Rendered) -> dict[str, str]:
        return {
            o["metadata"]["name"]: o["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for o, _ in rendered.pods()
            if o["kind"] == "Deployment"
        }

    before = checksums(render())
    after = checksums(render({"config": {"DTQ_TASKS_MAX_RETRIES": 9}}))
    assert before.keys() == after.keys() == {"dtq-api", "dtq-worker", "dtq-scheduler", "dtq-operator"}
    assert all(before[name] != after[name] for name in before)
    assert checksums(render()) == before


def test_token_changes_roll_the_api() -> None:
    def checksum(token: str) -> str:
        values = {"api": {"auth": {"tokens": [{"token": token, "role": "producer"}]}}}
        return render(values).component("api")["spec"]["template"]["metadata"]["annotations"]["checksum/tokens"]

    assert checksum("a" * 20) != checksum("b" * 20)


def test_tokens_go_to_a_secret_and_reach_only_the_api() -> None:
    rendered = render_scenario("ingress-tokens-netpol-values.yaml")
    tokens = rendered.secret_value("dtq-api-tokens", "tokens")
    assert tokens == (
        "producer-token-0123456789:producer,admin-token-0123456789abcdef:admin,viewer-token-0123456789abcd:viewer"
    )
    for obj, container in dtq_containers(rendered):
        env = {e["name"]: e for e in container.get("env", [])}
        if obj["metadata"]["name"] == "dtq-api":
            ref = env["DTQ_API_TOKENS"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "dtq-api-tokens", "key": "tokens"}
        else:
            assert "DTQ_API_TOKENS" not in env
    assert "DTQ_API_TOKENS" not in rendered.config()


def test_existing_token_secret_is_referenced_not_created() -> None:
    rendered = render({"api": {"auth": {"existingSecret": "my-tokens", "existingSecretKey": "list"}}})
    assert "dtq-api-tokens" not in rendered.names("Secret")
    env = {e["name"]: e for e in rendered.component("api")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DTQ_API_TOKENS"]["valueFrom"]["secretKeyRef"] == {"name": "my-tokens", "key": "list"}


def test_no_tokens_means_no_token_variable() -> None:
    api = render_scenario("default-values.yaml").component("api")
    assert "DTQ_API_TOKENS" not in {e["name"] for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}


# --- Redis -------------------------------------------------------------------------------------


def password_refs(rendered: Rendered) -> set[tuple[str, str]]:
    refs = set()
    for _, container in dtq_containers(rendered):
        env = {e["name"]: e for e in container.get("env", [])}
        ref = env["DTQ_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        refs.add((ref["name"], ref["key"]))
    return refs


def test_bundled_redis_is_durable_never_evicts_and_takes_its_password_from_the_secret() -> None:
    rendered = render_scenario("default-values.yaml")
    conf = rendered.get("ConfigMap", "dtq-redis")["data"]["redis.conf"].splitlines()
    assert {
        "appendonly yes",
        "appendfsync everysec",
        "maxmemory-policy noeviction",
        "dir /data",
        "maxmemory 768mb",
    } <= set(conf)
    redis = rendered.component("redis")
    assert redis["kind"] == "StatefulSet" and redis["spec"]["replicas"] == 1
    [claim] = redis["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data" and claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    [container] = redis["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["/etc/redis/redis.conf", "--requirepass", "$(REDIS_PASSWORD)"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert env["REDIS_PASSWORD"] == env["REDISCLI_AUTH"] == {"name": "dtq-redis", "key": "redis-password"}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/data", "/etc/redis", "/tmp"} <= mounts
    assert redis["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 999
    assert password_refs(rendered) == {("dtq-redis", "redis-password")}
    assert rendered.config()["DTQ_REDIS_URL"] == "redis://dtq-redis:6379/0"


def test_generated_redis_password_is_long_and_random() -> None:
    first = render().secret_value("dtq-redis", "redis-password")
    second = render().secret_value("dtq-redis", "redis-password")
    assert len(first) == 32 and first.isalnum() and first != second


def test_given_or_existing_redis_password() -> None:
    given = render({"redis": {"auth": {"password": "s3cret-s3cret"}}})
    assert given.secret_value("dtq-redis", "redis-password") == "s3cret-s3cret"
    existing = render({"redis": {"auth": {"existingSecret": "vault-redis", "existingSecretPasswordKey": "pw"}}})
    assert "dtq-redis" not in existing.names("Secret")
    assert password_refs(existing) == {("vault-redis", "pw")}
    [container] = existing.component("redis")["spec"]["template"]["spec"]["containers"]
    assert container["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "vault-redis", "key": "pw"}


def test_redis_without_persistence_uses_an_empty_dir() -> None:
    redis = render({"redis": {"persistence": {"enabled": False}}}).component("redis")
    assert "volumeClaimTemplates" not in redis["spec"]
    volumes = {v["name"]: v for v in redis["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes["data"]


def test_external_redis_by_host_builds_the_url_and_uses_the_existing_secret() -> None:
    rendered = render_scenario("external-redis-values.yaml")
    config = rendered.config()
    assert config["DTQ_REDIS_URL"] == "rediss://redis.data.svc.cluster.local:6380/2"
    assert config["DTQ_REDIS_USERNAME"] == "dtq"
    assert password_refs(rendered) == {("shared-redis", "password")}
    assert not [o for o in rendered.objects if o["metadata"]["labels"].get("app.kubernetes.io/component") == "redis"]


def test_external_redis_by_url_with_a_password_from_values() -> None:
    rendered = render_scenario("external-redis-url-values.yaml")
    assert rendered.config()["DTQ_REDIS_URL"] == "rediss://redis.example.com:6379/0"
    assert rendered.secret_value("queue-external-redis", "redis-password") == "from-values-only-for-tests"
    assert password_refs(rendered) == {("queue-external-redis", "redis-password")}


def test_external_redis_without_auth_sets_no_password() -> None:
    rendered = render({"redis": {"enabled": False}, "externalRedis": {"host": "redis"}})
    for _, container in dtq_containers(rendered):
        assert "DTQ_REDIS_PASSWORD" not in {e["name"] for e in container.get("env", [])}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_redis_url_never_carries_credentials(scenario: str) -> None:
    url = render_scenario(scenario).config()["DTQ_REDIS_URL"]
    assert "@" not in url and url.startswith(("redis://", "rediss://", "rediss+cluster://", "redis+sentinel://"))


def test_external_redis_cluster_lists_its_seeds_and_opens_their_port() -> None:
    rendered = render_scenario("external-redis-cluster-values.yaml")
    config = rendered.config()
    seeds = "redis-0.redis.data.svc:6379,redis-1.redis.data.svc:6379,redis-2.redis.data.svc:6379"
    assert config["DTQ_REDIS_URL"] == f"rediss+cluster://{seeds}"
    assert (config["DTQ_REDIS_USERNAME"], config["DTQ_REDIS_SHARDS"]) == ("dtq", "emails=6")
    assert password_refs(rendered) == {("shared-redis", "password")}
    assert egress_ports(policies(rendered)["worker"]) == {6379, 53}


def test_external_sentinel_names_the_primary_and_passes_both_passwords() -> None:
    rendered = render_scenario("external-redis-sentinel-values.yaml")
    config = rendered.config()
    sentinels = "sentinel-0.data.svc:26379,sentinel-1.data.svc:26379,sentinel-2.data.svc:26379"
    assert config["DTQ_REDIS_URL"] == f"redis+sentinel://{sentinels}/mymaster/1"
    assert config["DTQ_REDIS_WAIT_REPLICAS"] == "1"
    assert rendered.secret_value("dtq-external-redis", "redis-password") == "server-password-for-tests"
    assert rendered.secret_value("dtq-external-redis", "sentinel-password") == "sentinel-password-for-tests"
    for _, container in dtq_containers(rendered):
        env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container.get("env", [])}
        assert env["DTQ_REDIS_SENTINEL_PASSWORD"] == {"name": "dtq-external-redis", "key": "sentinel-password"}
    # the sentinels' port, and the servers' port the sentinels point at
    assert egress_ports(policies(rendered)["api"]) == {26379, 6380, 53}


def test_sentinel_password_from_an_existing_secret_and_the_url_form() -> None:
    values = {"redis": {"enabled": False}, "externalRedis": {
        "url": "rediss+sentinel://s1:5000,s2:5001/orders", "sentinel": {"existingSecret": "sentinels"}}}  # fmt: skip
    rendered = render(values)
    assert rendered.config()["DTQ_REDIS_URL"] == "rediss+sentinel://s1:5000,s2:5001/orders"
    assert not rendered.names("Secret") & {"dtq-external-redis"}
    for _, container in dtq_containers(rendered):
        refs = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container.get("env", [])}
        assert refs["DTQ_REDIS_SENTINEL_PASSWORD"] == {"name": "sentinels", "key": "sentinel-password"}
        assert "DTQ_REDIS_PASSWORD" not in refs


# --- operator RBAC -----------------------------------------------------------------------------


def test_operator_role_is_exactly_as_narrow_as_specified() -> None:
    rendered = render_scenario("default-values.yaml")
    [role] = rendered.of_kind("Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert role["rules"] == OPERATOR_ROLE_RULES
    assert "dtq-worker" in rendered.names("Deployment")  # the name in resourceNames exists
    [cluster_role] = rendered.of_kind("ClusterRole")
    assert cluster_role["rules"] == OPERATOR_CLUSTER_RULES


def test_operator_rbac_is_bound_to_the_operator_account() -> None:
    rendered = render_scenario("default-values.yaml")
    operator_account = rendered.component("operator")["spec"]["template"]["spec"]["serviceAccountName"]
    subject = [{"kind": "ServiceAccount", "name": operator_account, "namespace": NAMESPACE}]
    [binding] = rendered.of_kind("RoleBinding")
    [cluster_binding] = rendered.of_kind("ClusterRoleBinding")
    assert binding["subjects"] == cluster_binding["subjects"] == subject
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "dtq-operator"}
    [cluster_role] = rendered.of_kind("ClusterRole")
    assert cluster_binding["roleRef"]["name"] == cluster_role["metadata"]["name"]
    assert NAMESPACE in cluster_role["metadata"]["name"]  # one per namespace, no clashes between installs


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_wildcards_secrets_or_exec_in_any_rule(scenario: str) -> None:
    rendered = render_scenario(scenario)
    for rule in itertools.chain.from_iterable(
        r["rules"] for r in rendered.of_kind("Role") + rendered.of_kind("ClusterRole")
    ):
        values = rule.get("apiGroups", []) + rule["resources"] + rule["verbs"] + rule.get("resourceNames", [])
        assert not any("*" in v for v in values), rule
        assert not {"secrets", "pods/exec", "pods", "deployments"} & set(rule["resources"]), rule


def test_rbac_follows_the_release_name() -> None:
    rendered = render({"fullnameOverride": "jobs"})
    [role] = rendered.of_kind("Role")
    assert role["rules"][0]["resourceNames"] == ["jobs-worker"]
    assert "jobs-worker" in rendered.names("Deployment")


def test_rbac_can_be_left_to_the_cluster_admin() -> None:
    rendered = render({"operator": {"rbac": {"create": False}}})
    assert not rendered.of_kind("Role") and not rendered.of_kind("ClusterRole")
    assert rendered.of_kind("WorkerAutoscaler")


# --- network policies --------------------------------------------------------------------------


def policies(rendered: Rendered) -> dict[str, dict[str, Any]]:
    return {
        p["metadata"]["labels"]["app.kubernetes.io/component"]: p["spec"] for p in rendered.of_kind("NetworkPolicy")
    }


def test_network_policies_are_on_by_default_redis_for_dtq_pods_only_and_the_api_on_its_port() -> None:
    rendered = render_scenario("default-values.yaml")
    found = policies(rendered)
    assert set(found) == {"api", "worker", "scheduler", "operator", "redis"}
    [redis_rule] = found["redis"]["ingress"]
    [peer] = redis_rule["from"]
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "dtq", "app.kubernetes.io/instance": "dtq"}
    assert peer["podSelector"]["matchExpressions"][0]["values"] == ["api", "worker", "scheduler", "operator"]
    redis_ports = rendered.component("redis")["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert redis_rule["ports"] == [{"port": "redis", "protocol": "TCP"}]
    assert ("redis", 6379) in [(p["name"], p["containerPort"]) for p in redis_ports]
    [api_rule] = found["api"]["ingress"]
    assert api_rule == {"ports": [{"port": "http", "protocol": "TCP"}]}  # no `from`: anyone, on that port only
    api_ports = rendered.component("api")["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert [p["name"] for p in api_ports] == ["http"]
    for component in ("worker", "scheduler", "operator"):
        assert found[component]["ingress"] == []


def test_network_policies_can_be_turned_off() -> None:
    assert not render({"networkPolicy": {"enabled": False}}).of_kind("NetworkPolicy")


def test_every_dtq_pod_gets_a_policy_in_both_directions() -> None:
    rendered = render_scenario("ingress-tokens-netpol-values.yaml")
    found = policies(rendered)
    assert set(found) == {"api", "worker", "scheduler", "operator", "redis"}
    for component, spec in found.items():
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        assert spec["podSelector"]["matchLabels"] == rendered.component(component)["spec"]["selector"]["matchLabels"]


def test_redis_accepts_only_this_releases_dtq_pods_and_talks_to_no_one() -> None:
    spec = policies(render_scenario("ingress-tokens-netpol-values.yaml"))["redis"]
    [rule] = spec["ingress"]
    [peer] = rule["from"]
    selector = peer["podSelector"]
    assert selector["matchLabels"] == {"app.kubernetes.io/name": "dtq", "app.kubernetes.io/instance": "dtq"}
    assert selector["matchExpressions"] == [
        {"key": "app.kubernetes.io/component", "operator": "In", "values": ["api", "worker", "scheduler", "operator"]}
    ]
    assert rule["ports"] == [{"port": "redis", "protocol": "TCP"}]
    assert spec["egress"] == []


def test_only_the_api_accepts_connections() -> None:
    found = policies(render_scenario("ingress-tokens-netpol-values.yaml"))
    for component in ("worker", "scheduler", "operator"):
        assert found[component]["ingress"] == []
    [rule] = found["api"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    peers = rule["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in peers
    test_pod = {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/component": "test",
                "app.kubernetes.io/instance": "dtq",
                "app.kubernetes.io/name": "dtq",
            }
        }
    }
    assert test_pod in peers


def egress_ports(spec: dict[str, Any]) -> set[int | str]:
    return {p["port"] for rule in spec["egress"] for p in rule.get("ports", [])}


def test_egress_is_redis_dns_and_what_values_add() -> None:
    found = policies(render_scenario("ingress-tokens-netpol-values.yaml"))
    for component in ("api", "scheduler"):
        assert egress_ports(found[component]) == {6379, 53}
    assert egress_ports(found["worker"]) == {6379, 53, 5432}
    assert egress_ports(found["operator"]) == {6379, 53, 443, 6443}
    api_server = found["operator"]["egress"][-1]
    assert api_server["to"] == [{"ipBlock": {"cidr": "10.0.0.1/32"}}]
    redis_rule = found["api"]["egress"][0]
    assert redis_rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "redis"


def test_external_redis_egress_uses_its_port() -> None:
    found = policies(render_scenario("external-redis-values.yaml"))
    assert "redis" not in found
    assert egress_ports(found["worker"]) == {6380, 53}
    assert "to" not in found["worker"]["egress"][0]
