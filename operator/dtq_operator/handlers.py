"""The kopf layer: when to reconcile. Everything it does is `Autoscaler.run_once()`.

Each WorkerAutoscaler gets a daemon that reconciles it every `spec.pollInterval` seconds (a
daemon rather than a kopf timer, whose interval is fixed per handler, not per resource). The
create, update and resume handlers wake that daemon at once, so a new or edited resource is
acted on without waiting for the next poll. Handlers are registered on a registry of their own,
built from the settings, so nothing happens at import.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

import kopf

from dtq.settings import Settings
from dtq.store.store import Store
from dtq_operator import cluster
from dtq_operator.autoscaler import Autoscaler
from dtq_operator.cluster import Target
from dtq_operator.model import GROUP, PLURAL, VERSION, Spec

log = logging.getLogger("dtq.operator")

# On stop, a daemon finishes the pass it is in (status and events included) and exits; only one
# stuck for longer than the backoff is cancelled.
DAEMON_CANCELLATION_BACKOFF = 10.0
DAEMON_CANCELLATION_TIMEOUT = 5.0


def kopf_settings() -> kopf.OperatorSettings:
    """kopf's own state lives in `dtq.dev/*` annotations; the status belongs to the operator."""
    settings = kopf.OperatorSettings()
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{GROUP}/operator"
    settings.posting.level = logging.WARNING  # the operator posts its own events; kopf only its warnings
    return settings


def build_registry(settings: Settings) -> kopf.OperatorRegistry:
    """A kopf registry with the operator's handlers, sharing one dtq store and one API client."""
    registry = kopf.OperatorRegistry()
    autoscaler = Autoscaler(Store(settings.redis))

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        try:
            info, api = cluster.connect()
        except cluster.NoCredentials as exc:
            raise kopf.PermanentError(str(exc)) from exc
        autoscaler.kube = cluster.Cluster(api)
        log.info("talking to Kubernetes at %s", info.server)
        return info

    @kopf.on.cleanup(registry=registry)
    async def close(**_: Any) -> None:
        await autoscaler.store.close()

    @kopf.daemon(GROUP, VERSION, PLURAL, id="autoscale", registry=registry,
                 cancellation_backoff=DAEMON_CANCELLATION_BACKOFF,
                 cancellation_timeout=DAEMON_CANCELLATION_TIMEOUT)  # fmt: skip
    async def autoscale(body: kopf.Body, memo: kopf.Memo, stopped: kopf.DaemonStopped, **_: Any) -> None:
        wake = _wake(memo)
        while not stopped:
            wake.clear()
            await _pass(autoscaler, body, memo)
            await _pause(wake, stopped, Spec.parse(body.spec).poll_interval)

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    @kopf.on.update(GROUP, VERSION, PLURAL, field="spec", registry=registry)
    @kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry)
    async def wake_up(memo: kopf.Memo, **_: Any) -> None:  # async: it runs in the loop the daemon waits in
        _wake(memo).set()

    return registry


async def _pause(wake: asyncio.Event, stopped: kopf.DaemonStopped, seconds: float) -> None:
    """Wait for the next poll, cut short by a change to the resource or by the daemon's stop."""
    waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopped.wait(seconds))}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _wake(memo: kopf.Memo) -> asyncio.Event:
    """The event that cuts a resource's wait for its next poll short (one per resource)."""
    event = memo.get("wake")
    if not isinstance(event, asyncio.Event):
        event = memo["wake"] = asyncio.Event()
    return event


async def _pass(autoscaler: Autoscaler, body: kopf.Body, memo: kopf.Memo) -> None:
    """One reconcile of the resource as it is now; a failure is logged and the next poll retries."""
    meta = body.metadata
    target = Target(namespace=meta.namespace or "default", name=meta.name or "", uid=meta.uid,
                    generation=meta.get("generation"))  # fmt: skip
    try:
        decision = await autoscaler.run_once(
            target, copy.deepcopy(dict(body.spec)), copy.deepcopy(dict(body.status)), memo.get("memory")
        )
    except Exception:  # the loop must outlive any one failure; the next poll starts afresh
        log.exception("%s/%s: reconcile failed; retrying at the next poll", target.namespace, target.name)
        return
    memo["memory"] = decision.memory
