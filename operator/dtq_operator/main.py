"""`dtq operator`: run the autoscaling operator until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import threading

import kopf

from dtq.settings import Settings
from dtq_operator import cluster
from dtq_operator.handlers import build_registry, kopf_settings
from services.runtime import configure_logging, fail

Flag = asyncio.Event | threading.Event  #: what may stop the operator, or tell that it is ready


def run(settings: Settings) -> None:
    """Configure logging and run the operator in this thread's new event loop (kopf handles signals).

    Without credentials for Kubernetes it exits at once (code 2) with the reason, rather than
    letting kopf retry a login that cannot succeed.
    """
    configure_logging(settings.log)
    try:
        cluster.connect()
    except cluster.NoCredentials as exc:
        fail(str(exc))
    asyncio.run(operate(settings))


async def operate(
    settings: Settings,
    *,
    stop_flag: Flag | None = None,
    ready_flag: Flag | None = None,
) -> None:
    """Run kopf with the operator's handlers: one namespace if configured, else the whole cluster."""
    namespace = settings.operator.namespace
    port = settings.operator.liveness_port
    await kopf.operator(
        liveness_endpoint=f"http://0.0.0.0:{port}/healthz" if port else None,
        registry=build_registry(settings),
        settings=kopf_settings(),
        standalone=settings.operator.standalone,
        clusterwide=namespace is None,
        namespaces=[namespace] if namespace else [],
        stop_flag=stop_flag,
        ready_flag=ready_flag,
    )
