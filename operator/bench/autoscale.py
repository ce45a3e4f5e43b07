"""Benchmark the autoscaling operator: how fast it reacts, and how calm it stays.

    .venv/bin/python operator/bench/autoscale.py            # both figures, full length (about 11 minutes)
    .venv/bin/python operator/bench/autoscale.py --quick    # a one-minute smoke run of both

1. Reaction: 10,000 tasks appear in a queue watched by a WorkerAutoscaler (pollInterval 5 s,
   backlogPerReplica 100, maxReplicas 100); measured is the time from the enqueue call returning
   (the whole backlog visible) to the Deployment's scale reading 100. The backlog is pushed at
   evenly spread points of the poll cycle, so the figures cover every phase of it.
2. Oscillation: a closed loop for 10 minutes. A simulated worker pool runs as many dtq workers
   as the Deployment has replicas (4 tasks at a time each, tasks of 0.5 s); a producer sends
   60 tasks/s for one minute, then 5 tasks/s for one minute, and so on. The operator runs with
   the chart's defaults (poll 5 s, stabilization 300 s, backlogPerReplica 100, min 1, max 10).
   Counted: every change of the replica count, and the most changes inside any one
   stabilization window.

Everything is real except the Kubernetes API (the test suite's emulator) and the pods (dtq
workers in this process): the operator runs with kopf, against a redis-server started here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the emulator and the Redis helper live with the tests

from dtq.client import Client  # noqa: E402
from dtq.registry import App  # noqa: E402
from dtq.settings import Settings  # noqa: E402
from dtq.task import TaskRequest  # noqa: E402
from dtq.worker import Worker  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.operator.conftest import Kube  # noqa: E402
from tests.operator.emulator import EmulatorThread, wait_for  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

NAMESPACE = "bench"
OPEN_LOOP_WORKERS = 5
CRD = ROOT / "charts" / "dtq" / "crds" / "workerautoscalers.dtq.dev.yaml"


@dataclass(frozen=True)
class Shape:
    """The timings of one run; `--quick` divides the oscillation's by ten."""

    reaction_trials: int = 10
    reaction_poll: int = 5
    backlog: int = 10_000
    minutes: float = 10
    poll: int = 5
    window: int = 300
    period: float = 120  # seconds of one high + one low phase
    high_rate: float = 60
    low_rate: float = 5
    backlog_per_replica: int = 100
    open_loop: bool = False  # the pool does not follow the replicas: 5 workers (40 tasks/s) drain the queue


FULL = Shape()
QUICK = Shape(reaction_trials=4, reaction_poll=1, minutes=1, poll=1, window=30, period=12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run (reaction at poll 1s, 1 minute of load)")
    parser.add_argument("--only", choices=["reaction", "oscillation"], help="run one of the two measurements")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--backlog-per-replica", type=int, default=100, help="the oscillation's target (default 100)")
    parser.add_argument("--open-loop", action="store_true",
                        help="oscillation: 5 workers (40 tasks/s) drain the queue, whatever the replicas")  # fmt: skip
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop the operator and Redis on the way out
    shape = dataclasses.replace(QUICK if args.quick else FULL, backlog_per_replica=args.backlog_per_replica,
                                open_loop=args.open_loop)  # fmt: skip
    results: dict[str, Any] = {"shape": shape.__dict__}
    with tempfile.TemporaryDirectory() as scratch, EmulatorThread() as emulator:
        workdir = Path(scratch)
        server = RedisServer(workdir / "redis").start()
        try:
            settings = make_settings(server.url, "bench", workdir, worker={"shutdown_grace": 2.0, "idle_poll": 0.2})
            kube = cluster(emulator, workdir)
            with operator_process(server.url, kube.kubeconfig, workdir / "operator.log"):
                if args.only in (None, "reaction"):
                    results["reaction"] = reaction(kube, settings, shape)
                if args.only in (None, "oscillation"):
                    results["oscillation"] = oscillation(kube, settings, shape)
        finally:
            server.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def cluster(emulator: EmulatorThread, workdir: Path) -> Kube:
    """The emulated cluster with the namespace and the CRD."""
    kube = Kube(emulator, emulator.write_kubeconfig(workdir / "kubeconfig", NAMESPACE), NAMESPACE)
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    kube.apply(yaml.safe_load(CRD.read_text()))
    return kube


@contextlib.contextmanager
def operator_process(redis_url: str, kubeconfig: Path, log: Path) -> Iterator[None]:
    """`dtq operator`, the production entrypoint, in a process of its own; SIGTERM at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTQ_")}
    env.update(KUBECONFIG=str(kubeconfig), DTQ_REDIS_URL=redis_url, DTQ_REDIS_KEY_PREFIX="bench",
               DTQ_OPERATOR_NAMESPACE=NAMESPACE, DTQ_LOG_LEVEL="INFO")  # fmt: skip
    dtq = Path(sys.executable).with_name("dtq")
    with log.open("wb") as out:
        process = subprocess.Popen([str(dtq), "operator"], env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.returncode:
            print(log.read_text()[-3000:], file=sys.stderr)


# --- 1. reaction -----------------------------------------------------------------------------


def reaction(kube: Kube, settings: Settings, shape: Shape) -> dict[str, Any]:
    want = min(100, -(-shape.backlog // 100))
    delays = []
    for trial in range(shape.reaction_trials):
        name = f"reaction-{trial}"
        kube.deployment(name, replicas=0)
        kube.autoscaler(name, targetDeployment=name, queues=[name], backlogPerReplica=100, maxReplicas=100,
                        pollInterval=shape.reaction_poll)  # fmt: skip
        # Wait for the operator's first look, then push the backlog at a chosen point of its poll cycle.
        observed = wait_for(lambda name=name: kube.status(name).get("observedTime"), timeout=30, what="a first look")
        phase = (trial + 0.5) / shape.reaction_trials * shape.reaction_poll
        _sleep_until(_epoch(observed) + shape.reaction_poll + phase)
        began = time.time()
        asyncio.run(_enqueue(settings, name, shape.backlog))
        visible = time.time()
        wait_for(lambda name=name: kube.stored_replicas(name) == want, timeout=shape.reaction_poll * 3 + 10,
                 interval=0.002)  # fmt: skip
        delays.append(time.time() - visible)
        print(f"reaction trial {trial + 1}: pushed {phase:.2f}s into the poll cycle (enqueue took "
              f"{visible - began:.2f}s); {want} replicas set {delays[-1]:.3f}s after it returned",
              flush=True)  # fmt: skip
    summary = {
        "poll_interval_s": shape.reaction_poll,
        "backlog": shape.backlog,
        "replicas": want,
        "trials": len(delays),
        "min_s": round(min(delays), 3),
        "median_s": round(statistics.median(delays), 3),
        "mean_s": round(statistics.fmean(delays), 3),
        "max_s": round(max(delays), 3),
        "within_one_poll": all(d <= shape.reaction_poll for d in delays),
    }
    print("reaction:", json.dumps(summary), flush=True)
    return summary


async def _enqueue(settings: Settings, queue: str, count: int) -> None:
    async with Client(settings) as client:
        await client.enqueue_many([TaskRequest(task="echo", queue=queue) for _ in range(count)])


def _epoch(stamp: str) -> float:
    from dtq_operator.status import parse_timestamp  # noqa: PLC0415

    value = parse_timestamp(stamp)
    assert value is not None
    return value


def _sleep_until(moment: float) -> None:
    while (left := moment - time.time()) > 0:
        time.sleep(min(left, 0.05))


# --- 2. oscillation --------------------------------------------------------------------------


def oscillation(kube: Kube, settings: Settings, shape: Shape) -> dict[str, Any]:
    name = "oscillation"
    kube.deployment(name, replicas=1)
    kube.autoscaler(name, targetDeployment=name, queues=[name], backlogPerReplica=shape.backlog_per_replica,
                    minReplicas=1, maxReplicas=10, pollInterval=shape.poll, scaleDownStabilization=shape.window,
                    cooldown=shape.window)  # fmt: skip
    seconds = shape.minutes * 60
    loop = "open loop: 5 workers whatever the replicas" if shape.open_loop else "closed loop"
    print(f"oscillation ({loop}): {seconds:.0f}s of {shape.high_rate:g}/{shape.low_rate:g} tasks/s, period "
          f"{shape.period:g}s, poll {shape.poll}s, window {shape.window}s, backlogPerReplica "
          f"{shape.backlog_per_replica}", flush=True)  # fmt: skip
    changes, peak = asyncio.run(_closed_loop(kube, settings, shape, name, seconds))
    in_window = _most_in_window([t for t, _, _ in changes], shape.window)
    summary = {
        "seconds": seconds,
        "scale_changes": len(changes),
        "scale_ups": sum(1 for _, before, after in changes if after > before),
        "scale_downs": sum(1 for _, before, after in changes if after < before),
        "reversals": sum(1 for a, b in itertools.pairwise(changes) if (a[2] > a[1]) != (b[2] > b[1])),
        "most_changes_in_one_window": in_window,
        "most_reversals_in_one_window": _most_in_window(_reversal_times(changes), shape.window),
        "highest_replicas": max((to for _, _, to in changes), default=1),
        "highest_backlog": peak,
        "timeline": [{"t": round(t, 1), "from": before, "to": after} for t, before, after in changes],
    }
    print("oscillation:", json.dumps({k: v for k, v in summary.items() if k != "timeline"}), flush=True)
    for t, before, after in changes:
        print(f"  t={t:6.1f}s  {before} -> {after}")
    return summary


def _reversal_times(changes: list[tuple[float, int, int]]) -> list[float]:
    """When the scaling direction turned (up after down, or down after up)."""
    return [b[0] for a, b in itertools.pairwise(changes) if (a[2] > a[1]) != (b[2] > b[1])]


def _most_in_window(times: list[float], window: float) -> int:
    return max((sum(1 for t in times if start <= t < start + window) for start in times), default=0)


async def _closed_loop(
    kube: Kube, settings: Settings, shape: Shape, name: str, seconds: float
) -> tuple[list[tuple[float, int, int]], int]:
    app = App()
    started = time.monotonic()
    running: list[tuple[Worker, asyncio.Task[None]]] = []
    stopping: list[asyncio.Task[None]] = []
    changes: list[tuple[float, int, int]] = []
    replicas = 1
    peak = 0
    async with Client(settings) as client:
        producer = asyncio.create_task(_produce(client, name, shape, started, seconds))
        while not producer.done():
            current = await asyncio.to_thread(kube.stored_replicas, name)
            if current != replicas:
                changes.append((time.monotonic() - started, replicas, current))
                replicas = current
            pods = OPEN_LOOP_WORKERS if shape.open_loop else replicas
            while len(running) < pods:  # "pods" start
                worker = Worker(app, settings, queues=[name], concurrency=4)
                running.append((worker, asyncio.create_task(worker.run())))
            while len(running) > pods:  # "pods" get SIGTERM and drain
                worker, task = running.pop()
                worker.request_stop()
                stopping.append(task)
            stats = await client.queue_stats(name)
            peak = max(peak, stats.ready)
            await asyncio.sleep(0.5)
        for worker, task in running:
            worker.request_stop()
            stopping.append(task)
        await asyncio.gather(*stopping, return_exceptions=True)
    return changes, peak


async def _produce(client: Client, queue: str, shape: Shape, started: float, seconds: float) -> None:
    tick = 0.25
    owed = 0.0
    while (elapsed := time.monotonic() - started) < seconds:
        high = (elapsed % shape.period) < shape.period / 2
        owed += (shape.high_rate if high else shape.low_rate) * tick
        count, owed = int(owed), owed - int(owed)
        if count:
            await client.enqueue_many([TaskRequest(task="sleep", payload={"seconds": 0.5}, queue=queue)
                                       for _ in range(count)])  # fmt: skip
        await asyncio.sleep(tick)


if __name__ == "__main__":
    main()
