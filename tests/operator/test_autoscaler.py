"""One reconcile pass against a real Redis and a stand-in for the Kubernetes calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dtq_operator.autoscaler import Autoscaler, read_load
from dtq_operator.cluster import Conflict, Scale, Target
from dtq_operator.model import Load, Memory, ReadError
from dtq_operator.status import memory_to_status
from kubernetes.client.exceptions import ApiException

from dtq.client import Client
from dtq.settings import Settings
from dtq.store.store import Store
from dtq.task import TaskRequest
from tests.conftest import make_settings
from tests.support.redis_server import free_port

TARGET = Target(namespace="jobs", name="workers", uid="u-1", generation=2)
SPEC = {"targetDeployment": "workers", "queues": ["emails", "reports"], "backlogPerReplica": 100,
        "maxReplicas": 10, "pollInterval": 5, "scaleDownStabilization": 60, "cooldown": 60}  # fmt: skip


class FakeKube:
    """The Deployment's scale and the calls made, in memory; `conflicts` makes the next patches lose a race."""

    def __init__(self, replicas: int = 0) -> None:
        self.replicas = replicas
        self.version = 1
        self.conflicts = 0
        self.patch_error: Exception | None = None
        self.missing = False
        self.reads = 0
        self.statuses: list[dict[str, Any]] = []
        self.events: list[tuple[bool, str, str]] = []

    def read_scale(self, namespace: str, deployment: str) -> Scale:
        assert (namespace, deployment) == ("jobs", "workers")
        self.reads += 1
        if self.missing:
            raise ApiException(status=404, reason="Not Found")
        return Scale(self.replicas, str(self.version))

    def set_replicas(self, namespace: str, deployment: str, replicas: int, read_at: str | None) -> None:
        assert (namespace, deployment) == ("jobs", "workers")
        if self.patch_error is not None:
            raise self.patch_error
        if self.conflicts:
            self.conflicts -= 1
            self.version += 1  # somebody else scaled it meanwhile
        if read_at != str(self.version):
            raise Conflict("changed")
        self.replicas = replicas
        self.version += 1

    def patch_status(self, target: Target, status: dict[str, Any]) -> None:
        assert target == TARGET
        self.statuses.append(status)

    def post_event(self, target: Target, *, warning: bool, reason: str, message: str) -> None:
        assert target == TARGET
        self.events.append((warning, reason, message))

    def condition(self, kind: str) -> dict[str, Any]:
        return next(c for c in self.statuses[-1]["conditions"] if c["type"] == kind)


@pytest.fixture
async def enqueue(client: Client) -> Any:
    async def push(queue: str, count: int) -> None:
        await client.enqueue_many([TaskRequest(task="echo", queue=queue) for _ in range(count)])

    return push


async def test_a_backlog_is_scaled_to_and_reported(settings: Settings, enqueue: Any) -> None:
    await enqueue("emails", 180)
    await enqueue("reports", 70)
    kube = FakeKube(replicas=1)
    async with Client(settings) as client:
        decision = await Autoscaler(client.store, kube).run_once(TARGET, SPEC, {}, None)
    assert (decision.current, decision.replicas, kube.replicas) == (1, 3, 3)
    status = kube.statuses[-1]
    assert (status["backlog"], status["active"], status["desiredReplicas"], status["currentReplicas"]) == (250, 0, 3, 3)
    assert status["lastScaleReason"] == "250 tasks (250 ready + 0 active) at 100 per replica make 3"
    assert status["observedGeneration"] == 2
    assert kube.events == [(False, "ScaledUp", "1 -> 3 replicas: " + status["lastScaleReason"])]


async def test_a_lost_race_for_the_scale_is_read_again_and_decided_again(settings: Settings, enqueue: Any) -> None:
    await enqueue("emails", 500)
    kube = FakeKube(replicas=2)
    kube.conflicts = 1
    async with Client(settings) as client:
        decision = await Autoscaler(client.store, kube).run_once(TARGET, SPEC, {}, None)
    assert kube.reads == 2
    assert (decision.replicas, kube.replicas) == (5, 5)


async def test_a_scale_that_keeps_changing_is_left_alone(settings: Settings, enqueue: Any) -> None:
    await enqueue("emails", 500)
    kube = FakeKube(replicas=2)
    kube.conflicts = 10
    async with Client(settings) as client:
        decision = await Autoscaler(client.store, kube).run_once(TARGET, SPEC, {}, None)
    assert (decision.replicas, decision.verdict, kube.replicas) == (None, "Conflict", 2)
    assert kube.condition("Scaling")["status"] == "False"
    assert kube.events[-1][:2] == (True, "Conflict")


async def test_a_failed_scale_patch_becomes_a_condition(settings: Settings, enqueue: Any) -> None:
    await enqueue("emails", 500)
    kube = FakeKube(replicas=2)
    kube.patch_error = ApiException(status=403, reason="Forbidden")
    async with Client(settings) as client:
        decision = await Autoscaler(client.store, kube).run_once(TARGET, SPEC, {}, None)
    assert decision.verdict == "ScaleFailed"
    scaling = kube.condition("Scaling")
    assert (scaling["status"], scaling["reason"]) == ("False", "ScaleFailed")
    assert "HTTP 403 Forbidden" in scaling["message"]
    assert kube.statuses[-1]["currentReplicas"] == 2


async def test_unreachable_redis_never_scales_down(tmp_path: Path, prefix: str) -> None:
    nowhere = make_settings(f"redis://127.0.0.1:{free_port()}/0", prefix, tmp_path,
                            redis={"connect_timeout": 0.5, "socket_timeout": 0.5})  # fmt: skip
    kube = FakeKube(replicas=6)
    # The memory says the window is long over and the queues were empty: it would scale to 1.
    memory = Memory(recommendations=((0.0, 1),), idle_since=0.0, observed_at=0.0)
    store = Store(nowhere.redis)  # not connected: the operator never needs Redis to start
    try:
        autoscaler = Autoscaler(store, kube)
        first = await autoscaler.run_once(TARGET, SPEC, memory_to_status(memory), None)
        again = await autoscaler.run_once(TARGET, SPEC, kube.statuses[-1], first.memory)
    finally:
        await store.close()
    assert (first.replicas, again.replicas, kube.replicas) == (None, None, 6)
    assert kube.condition("RedisReachable")["status"] == "False"
    assert kube.statuses[-1]["currentReplicas"] == 6
    assert [(warning, reason) for warning, reason, _ in kube.events] == [(True, "RedisUnavailable")] * 2
    assert len(kube.events) == 2  # the second pass changed no condition: no new events


async def test_a_missing_deployment_is_a_condition_not_an_error(settings: Settings) -> None:
    kube = FakeKube()
    kube.missing = True
    async with Client(settings) as client:
        decision = await Autoscaler(client.store, kube).run_once(TARGET, SPEC, {}, None)
    assert decision.verdict == "TargetNotFound"
    assert "Deployment jobs/workers does not exist" in kube.condition("Scaling")["message"]
    assert kube.events[0][:2] == (True, "TargetNotFound")


async def test_recovery_is_an_event_too(settings: Settings) -> None:
    kube = FakeKube(replicas=0)
    before = {"conditions": [{"type": "RedisReachable", "status": "False", "reason": "RedisUnavailable"}]}
    async with Client(settings) as client:
        await Autoscaler(client.store, kube).run_once(TARGET, SPEC, before, None)
    assert (False, "QueuesRead", "RedisReachable: the queues were read") in kube.events


async def test_the_load_counts_paused_queues_apart(client: Client, enqueue: Any) -> None:
    await enqueue("emails", 30)
    await enqueue("reports", 12)
    await client.pause("reports")
    load = await read_load(client.store, ["emails", "reports", "never-used"])
    assert isinstance(load, Load)
    assert (load.ready, load.paused, load.active) == (30, 12, 0)
    assert load.oldest_age >= 0


async def test_an_unusable_spec_reads_nothing_and_scales_nothing(settings: Settings) -> None:
    kube = FakeKube(replicas=3)
    async with Client(settings) as client:
        decision = await Autoscaler(client.store, kube).run_once(TARGET, {"queues": ["emails"]}, {}, None)
    assert (decision.replicas, decision.verdict, kube.reads) == (None, "InvalidSpec", 0)
    assert kube.condition("RedisReachable")["status"] == "Unknown"
    assert "targetDeployment must be a Deployment name" in kube.condition("Scaling")["message"]


async def test_the_newer_memory_is_used(settings: Settings) -> None:
    kube = FakeKube(replicas=8)
    spec = {**SPEC, "cooldown": 100_000, "scaleDownStabilization": 100_000}
    stale = memory_to_status(Memory(recommendations=((1.0, 1),), observed_at=1.0))
    async with Client(settings) as client:
        autoscaler = Autoscaler(client.store, kube, clock=lambda: 1000.0)
        held = await autoscaler.run_once(TARGET, spec, stale, Memory(recommendations=((990.0, 8),), observed_at=990.0))
    assert held.replicas == 8  # the process memory (8 recommended 10s ago) beat the stale status


async def test_read_load_reports_the_error(tmp_path: Path, prefix: str) -> None:
    nowhere = make_settings(f"redis://127.0.0.1:{free_port()}/0", prefix, tmp_path,
                            redis={"connect_timeout": 0.5, "socket_timeout": 0.5})  # fmt: skip
    store = Store(nowhere.redis)
    try:
        load = await read_load(store, ["emails"])
    finally:
        await store.close()
    assert isinstance(load, ReadError)
    assert load.reason == "RedisUnavailable"
