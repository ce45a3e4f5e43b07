"""One pass for one WorkerAutoscaler: observe Redis and the Deployment, decide, apply, report.

Observation is one Redis round trip for all of the resource's queues and one GET of the
Deployment's `scale`. Applying is a merge patch of `scale` that carries the resourceVersion it
was read at: if someone else changed the replica count meanwhile (HTTP 409), the scale is read
again and the decision made again. Reporting is a merge patch of the status, events on every
scale and on every condition that turns False (or back), and one log line that says why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException
from redis.exceptions import RedisError

from dtq.errors import DtqError
from dtq.store.store import Store
from dtq_operator.cluster import Conflict, Scale, Target
from dtq_operator.model import Condition, Decision, Load, Memory, Observed, ReadError, Spec
from dtq_operator.reconcile import reconcile
from dtq_operator.status import memory_from_status, newest, status_patch, transitions

log = logging.getLogger("dtq.operator")

CONFLICT_ATTEMPTS = 3
# What a failing Kubernetes call raises: an HTTP error status, a connection failure, a bad reply.
KUBE_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError)


class Kube(Protocol):
    """The Kubernetes calls the autoscaler needs (`cluster.Cluster`, or a test double)."""

    def read_scale(self, namespace: str, deployment: str) -> Scale: ...

    def set_replicas(self, namespace: str, deployment: str, replicas: int, read_at: str | None) -> None: ...

    def patch_status(self, target: Target, status: dict[str, Any]) -> None: ...

    def post_event(self, target: Target, *, warning: bool, reason: str, message: str) -> None: ...


async def read_load(store: Store, queues: Sequence[str]) -> Load | ReadError:
    """The summed load of `queues`, read in one round trip, or why it could not be read."""
    try:
        counts = await store.queue_counts(queues)
    except (DtqError, RedisError, OSError) as exc:
        return ReadError("RedisUnavailable", str(exc) or type(exc).__name__)
    return Load.from_counts(counts.values())


class Autoscaler:
    """Reconciles WorkerAutoscalers with one dtq store and one Kubernetes client."""

    def __init__(self, store: Store, kube: Kube | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.kube = kube  # set by the login handler before anything is reconciled
        self.clock = clock

    def _api(self) -> Kube:
        if self.kube is None:
            raise RuntimeError("the Kubernetes client is not configured yet (no login happened)")
        return self.kube

    async def run_once(
        self, target: Target, raw_spec: Mapping[str, Any], status: Mapping[str, Any], remembered: Memory | None
    ) -> Decision:
        """Observe, decide, apply and report once; returns the decision (its memory is the new state)."""
        spec = Spec.parse(raw_spec)
        memory = newest(remembered, memory_from_status(status))
        now = self.clock()
        readable = bool(spec.target and spec.queues)
        load = await read_load(self.store, spec.queues) if readable else None
        decision, applied = await self._decide_and_scale(target, spec, load, memory, now)
        await self._report(target, spec, decision, status, applied=applied, now=now)
        return decision

    async def _decide_and_scale(
        self, target: Target, spec: Spec, load: Load | ReadError | None, memory: Memory, now: float
    ) -> tuple[Decision, bool]:
        decision: Decision | None = None
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            replicas, read_at = await self._read_replicas(target, spec) if spec.target else (None, None)
            decision = reconcile(spec, Observed(load, replicas, memory), now)
            if not decision.scales or decision.replicas is None:
                return decision, False
            try:
                await asyncio.to_thread(
                    self._api().set_replicas, target.namespace, spec.target, decision.replicas, read_at
                )
            except Conflict as exc:
                log.info("%s/%s: %s; reading the scale again (attempt %d)", target.namespace, target.name, exc, attempt)
                continue
            except KUBE_ERRORS as exc:
                return _failed(decision, "ScaleFailed", f"patching the scale failed: {_describe(exc)}"), False
            return decision, True
        assert decision is not None
        return _failed(decision, "Conflict", f"the scale kept changing under {CONFLICT_ATTEMPTS} attempts"), False

    async def _read_replicas(self, target: Target, spec: Spec) -> tuple[int | ReadError, str | None]:
        try:
            scale = await asyncio.to_thread(self._api().read_scale, target.namespace, spec.target)
        except ApiException as exc:
            if exc.status == 404:
                return ReadError("TargetNotFound", f"Deployment {target.namespace}/{spec.target} does not exist"), None
            return ReadError("ScaleUnreadable", _describe(exc)), None
        except KUBE_ERRORS as exc:
            return ReadError("ScaleUnreadable", _describe(exc)), None
        return scale.replicas, scale.resource_version

    async def _report(
        self, target: Target, spec: Spec, decision: Decision, status: Mapping[str, Any], *, applied: bool, now: float
    ) -> None:
        _log_decision(target, decision, status, applied=applied)
        patch = status_patch(spec, decision, status, now=now, generation=target.generation, applied=applied)
        try:
            await asyncio.to_thread(self._api().patch_status, target, patch)
        except KUBE_ERRORS as exc:
            log.warning("%s/%s: could not write the status: %s", target.namespace, target.name, _describe(exc))
        for warning, reason, message in _events(decision, status, applied=applied):
            try:
                await asyncio.to_thread(self._api().post_event, target, warning=warning, reason=reason, message=message)
            except KUBE_ERRORS as exc:
                log.warning("%s/%s: could not post an event: %s", target.namespace, target.name, _describe(exc))


def _events(decision: Decision, status: Mapping[str, Any], *, applied: bool) -> list[tuple[bool, str, str]]:
    """(warning?, reason, message) of each event this decision deserves."""
    events: list[tuple[bool, str, str]] = []
    if applied:
        events.append(
            (False, decision.verdict, f"{decision.current} -> {decision.replicas} replicas: {decision.reason}")
        )
    had = {c.get("type") for c in status.get("conditions") or [] if isinstance(c, Mapping)}
    for condition in transitions(status.get("conditions"), decision.conditions):
        if condition.status == "False":
            events.append((True, condition.reason, condition.message))
        elif condition.status == "True" and condition.type in had:
            events.append((False, condition.reason, f"{condition.type}: {condition.message}"))
    return events


# Verdicts that only confirm the scale before them: logged at DEBUG, not INFO.
_FOLLOW_UPS = {"ScaledUp": ("Steady",), "ScaledDown": ("Steady", "CoolingDown"), "ScaledToZero": ("Asleep",)}


def _log_decision(target: Target, decision: Decision, status: Mapping[str, Any], *, applied: bool) -> None:
    where = f"{target.namespace}/{target.name}"
    previous = next(
        (
            c.get("reason")
            for c in status.get("conditions") or []
            if isinstance(c, Mapping) and c.get("type") == "Scaling"
        ),
        None,
    )
    if applied:
        log.info(
            "%s: %s -> %s replicas (%s): %s",
            where,
            decision.current,
            decision.replicas,
            decision.verdict,
            decision.reason,
        )
    elif decision.replicas is None:
        level = logging.WARNING if decision.verdict != previous else logging.DEBUG
        log.log(level, "%s: not scaling (%s): %s", where, decision.verdict, decision.reason)
    else:
        news = decision.verdict != previous and decision.verdict not in _FOLLOW_UPS.get(str(previous), ())
        level = logging.INFO if news else logging.DEBUG
        log.log(level, "%s: %s replicas (%s): %s", where, decision.replicas, decision.verdict, decision.reason)


def _failed(decision: Decision, verdict: str, message: str) -> Decision:
    """The decision, turned into a hold because applying it failed (its memory is still right)."""
    conditions = tuple(c for c in decision.conditions if c.type != "Scaling")
    return replace(
        decision,
        replicas=None,
        verdict=verdict,
        reason=message,
        conditions=(*conditions, Condition("Scaling", "False", verdict, message)),
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    return str(exc) or type(exc).__name__
