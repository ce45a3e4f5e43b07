"""The commands the chart runs, run as real processes against the test session's redis-server.

Each test takes the container's args, probe commands and environment from the rendered chart
(the settings ConfigMap plus the container's literal env), points DTQ_REDIS_URL and
DTQ_REDIS_KEY_PREFIX at the test Redis and prefix, and runs `dtq` exactly so.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dtq.client import Client
from dtq.settings import Settings, env_names
from dtq.task import TaskState
from tests.chart.rendering import NAMESPACE, SCENARIOS, Rendered, render_scenario
from tests.support.redis_server import RedisServer, free_port

DTQ = str(Path(sys.executable).with_name("dtq"))


def container_of(rendered: Rendered, component: str) -> dict[str, Any]:
    [container] = rendered.component(component)["spec"]["template"]["spec"]["containers"]
    return container


def rendered_env(rendered: Rendered, container: dict[str, Any]) -> dict[str, str]:
    """The DTQ_* environment a pod of this container gets, secrets resolved from the rendered Secrets."""
    env = dict(rendered.config())
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
            continue
        source = entry["valueFrom"]
        if "fieldRef" in source:
            assert source["fieldRef"]["fieldPath"] == "metadata.namespace"
            env[entry["name"]] = NAMESPACE
        elif source["secretKeyRef"]["name"] in rendered.names("Secret"):
            ref = source["secretKeyRef"]
            env[entry["name"]] = rendered.secret_value(ref["name"], ref["key"])
        else:  # a Secret the user brings: any value stands in for it
            env[entry["name"]] = "from-an-existing-secret"
    return env


def process_env(dtq_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path) -> dict[str, str]:
    """This machine's environment without DTQ_* variables, plus the pod's, aimed at the test Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTQ_")}
    env.update(dtq_env)
    env.pop("DTQ_REDIS_PASSWORD", None)  # the test Redis has no password
    env.pop("DTQ_REDIS_USERNAME", None)
    env.update({"DTQ_REDIS_URL": redis_url, "DTQ_REDIS_KEY_PREFIX": prefix})
    if "DTQ_WORKER_HEALTH_FILE" in env:  # /tmp/... in the pod; per test here
        env["DTQ_WORKER_HEALTH_FILE"] = str(tmp_path / Path(env["DTQ_WORKER_HEALTH_FILE"]).name)
    return env


def run(command: list[str], env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """One short command, as an exec probe would run it."""
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)


class Process:
    """A long-running `dtq` process with its stderr in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._file = log.open("wb")
        self.popen = subprocess.Popen([DTQ, *args], env=env, stdout=self._file, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float) -> int:
        """SIGTERM, as Kubernetes sends it; the exit code, or a failure showing the log on a timeout."""
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {timeout}s after SIGTERM (Kubernetes would SIGKILL it):\n{self.output()}")
        finally:
            self.close()

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
        self._file.close()


@dataclass
class Launcher:
    """Starts `dtq` processes aimed at the test Redis under the test's prefix; stops them afterwards."""

    redis_url: str
    prefix: str
    tmp_path: Path
    started: list[Process] = field(default_factory=list)

    def env(self, rendered: Rendered, container: dict[str, Any]) -> dict[str, str]:
        return process_env(rendered_env(rendered, container), self.redis_url, self.prefix, self.tmp_path)

    def start(self, args: list[str], env: dict[str, str], name: str) -> Process:
        process = Process(args, env, self.tmp_path / f"{name}.log")
        self.started.append(process)
        return process


@pytest.fixture
def launcher(redis_server: RedisServer, prefix: str, tmp_path: Path) -> Iterator[Launcher]:
    launched = Launcher(redis_server.url, prefix, tmp_path)
    yield launched
    for process in launched.started:
        process.close()


def wait_for(check: Callable[[], bool], timeout: float, what: str, process: Process | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if process is not None and process.popen.poll() is not None:
            pytest.fail(f"the process exited ({process.popen.returncode}) before {what}:\n{process.output()}")
        if time.monotonic() > deadline:
            detail = process.output() if process is not None else ""
            pytest.fail(f"timed out waiting for {what}\n{detail}")
        time.sleep(0.1)


async def wait_for_state(client: Client, task_id: str, states: set[TaskState], timeout: float = 20) -> TaskState:
    deadline = time.monotonic() + timeout
    while True:
        state = (await client.get(task_id)).state
        if state in states or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.1)


# --- every container's environment is one dtq accepts ---------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_dtq_container_env_is_accepted_by_the_settings_loader(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = render_scenario(scenario)
    components = {
        c
        for c in ("api", "worker", "scheduler", "operator")
        if any(o["metadata"]["labels"]["app.kubernetes.io/component"] == c for o, _ in rendered.pods())
    }
    assert components >= {"worker", "scheduler"}
    for component in sorted(components):
        for name in [n for n in os.environ if n.startswith("DTQ_")]:
            monkeypatch.delenv(name)
        dtq_env = rendered_env(rendered, container_of(rendered, component))
        assert set(dtq_env) <= env_names().keys()
        for name, value in dtq_env.items():
            monkeypatch.setenv(name, value)
        settings = Settings.from_env()  # raises ConfigError, naming the variable, on anything dtq refuses
        if component == "worker":
            assert settings.worker.shutdown_grace == float(dtq_env["DTQ_WORKER_SHUTDOWN_GRACE"])
        if component == "operator":
            assert (settings.operator.namespace, settings.operator.standalone) == (NAMESPACE, True)


# --- worker ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "queue"), [("default-values.yaml", "default"), ("operator-off-values.yaml", "emails")]
)
async def test_worker_runs_tasks_passes_its_probes_and_drains_on_sigterm(
    scenario: str, queue: str, launcher: Launcher, client: Client
) -> None:
    rendered = render_scenario(scenario)
    container = container_of(rendered, "worker")
    env = launcher.env(rendered, container)
    if "DTQ_APP" in env:  # the scenario names the user's module; built-in tasks are enough here
        del env["DTQ_APP"]
    env["DTQ_BUILTIN_TASKS"] = "true"  # production workers run only the user's handlers
    liveness = container["livenessProbe"]["exec"]["command"]
    readiness = container["readinessProbe"]["exec"]["command"]
    assert liveness[0] == readiness[0] == "dtq" and container["args"][0] == "worker"

    assert run([DTQ, *liveness[1:]], env).returncode == 1, "the probe must fail before the worker runs"
    worker = launcher.start(container["args"], env, "worker")
    wait_for(lambda: run([DTQ, *liveness[1:]], env).returncode == 0, 30, "the liveness probe to pass", worker)
    assert run([DTQ, *readiness[1:]], env).returncode == 0

    enqueued = await client.enqueue("echo", {"via": "chart"}, queue=queue)
    assert await wait_for_state(client, enqueued.id, {TaskState.SUCCEEDED}) is TaskState.SUCCEEDED
    assert (await client.get(enqueued.id)).result == {"via": "chart"}

    grace = float(env["DTQ_WORKER_SHUTDOWN_GRACE"])
    assert worker.stop(timeout=grace) == 0, worker.output()
    log_lines = [line for line in worker.output().splitlines() if line.strip()]
    assert log_lines and all(json.loads(line)["level"] for line in log_lines)  # DTQ_LOG_FORMAT=json


# --- scheduler -------------------------------------------------------------------------------


async def test_scheduler_promotes_due_tasks_and_stops_on_sigterm(launcher: Launcher, client: Client) -> None:
    rendered = render_scenario("default-values.yaml")
    container = container_of(rendered, "scheduler")
    env = launcher.env(rendered, container)
    env["DTQ_SCHEDULER_POLL_INTERVAL"] = "0.2"  # as DTQ_* config would set it; keeps the test short

    enqueued = await client.enqueue("echo", "later", delay=0.5)
    assert enqueued.state is TaskState.SCHEDULED
    scheduler = launcher.start(container["args"], env, "scheduler")
    assert await wait_for_state(client, enqueued.id, {TaskState.QUEUED}) is TaskState.QUEUED, scheduler.output()
    grace = rendered.component("scheduler")["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    assert scheduler.stop(timeout=grace) == 0, scheduler.output()


# --- operator --------------------------------------------------------------------------------


def test_operator_command_exists_with_the_charts_env(launcher: Launcher) -> None:
    rendered = render_scenario("default-values.yaml")
    container = container_of(rendered, "operator")
    env = launcher.env(rendered, container)
    result = run([DTQ, *container["args"], "--help"], env)
    assert result.returncode == 0, result.stderr
    assert "operator" in result.stdout.lower()


# --- API and the helm test pod ---------------------------------------------------------------


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


@pytest.mark.parametrize("scenario", ["default-values.yaml", "ingress-tokens-netpol-values.yaml"])
async def test_api_serves_probes_and_the_helm_test_pod_passes(
    scenario: str, launcher: Launcher, client: Client
) -> None:
    rendered = render_scenario(scenario)
    container = container_of(rendered, "api")
    env = launcher.env(rendered, container)
    args = list(container["args"])
    port = free_port()
    args[args.index("--port") + 1] = str(port)  # the pod's port 3000 may be taken on this machine
    api = launcher.start(args, env, "api")
    base = f"http://127.0.0.1:{port}"

    probes = {kind: container[kind]["httpGet"]["path"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    wait_for(lambda: http("GET", base + probes["startupProbe"])[0] == 200, 30, "the startup probe", api)
    assert http("GET", base + probes["livenessProbe"])[0] == 200
    # Ready once Redis answers (as the kubelet does, poll it: it may lag the process start).
    wait_for(lambda: http("GET", base + probes["readinessProbe"])[0] == 200, 30, "the readiness probe", api)

    for monitor in rendered.of_kind("ServiceMonitor"):  # Prometheus scrapes with what the chart gives it
        [endpoint] = monitor["spec"]["endpoints"]
        credentials = endpoint.get("authorization", {}).get("credentials")
        token = rendered.secret_value(credentials["name"], credentials["key"]) if credentials else None
        status, text = http("GET", base + endpoint["path"], token=token)
        assert status == 200 and "# TYPE" in text, (status, text[:200])
        if token:
            assert http("GET", base + endpoint["path"])[0] == 401

    [pod] = rendered.of_kind("Pod")
    [test] = pod["spec"]["containers"]
    test_env = {k: v for k, v in rendered_env(rendered, test).items() if k not in rendered.config()}
    test_env["API_URL"] = base
    if "API_TOKENS" in test_env:
        assert http("POST", base + "/tasks", {"task": "echo"})[0] == 401
    command = [sys.executable if test["command"][0] == "python" else test["command"][0], *test["command"][1:]]
    result = run([*command, *test["args"]], {**os.environ, **test_env}, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    task_id = result.stdout.split("enqueued echo task ")[1].split()[0]
    task = await client.get(task_id)
    assert (task.task, task.payload, task.state) == ("echo", {"from": "helm test"}, TaskState.QUEUED)
    # uvicorn shuts down gracefully, then re-raises SIGTERM: exit 0 or "killed by SIGTERM" (143 in a pod).
    assert api.stop(timeout=20) in {0, -signal.SIGTERM}, api.output()
    assert "shutdown complete" in api.output().lower()
