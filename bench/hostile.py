"""What a hostile producer costs dtq: the issue-13 attack run's reproductions, measured.

    python -m bench.hostile            # prints a small table; about 40 s

1. The 16 MiB bulk body of 5.6 million `{}` items, sent to an API whose bulk limit was raised to
   16 MiB: how long the refusal takes, how far the API's peak RSS rises, and the slowest
   `/healthz` answer while it is being refused.
2. The same body at the default limit (refused from its Content-Length).
3. The scheduler's CPU with 1,000 queues nobody uses, before and after they leave the queue
   index (DTQ_QUEUES_IDLE_TTL, here 3 s).

Each run gets its own redis-server on a free port and its own `dtq api` / `dtq scheduler`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

from bench.redis_server import PrivateRedis, free_port

MIB = 1024 * 1024
DTQ = shutil.which("dtq", path=str(Path(sys.executable).parent)) or "dtq"


def dtq_env(redis_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTQ_")}
    env["DTQ_REDIS_URL"] = redis_url
    env.update({f"DTQ_{name.upper()}": value for name, value in settings.items()})
    return env


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        child = subprocess.Popen([DTQ, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        child.terminate()
        child.wait(15)


def wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{base} did not come up")


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def huge_bulk(redis: PrivateRedis, work: Path, limit: int | None) -> dict[str, float]:
    body = b"[" + b"{}," * (16 * MIB // 3 - 1) + b"{}]"
    port = free_port()
    settings = {"api_port": str(port)}
    if limit is not None:
        settings["api_max_bulk_body_bytes"] = str(limit)
    base = f"http://127.0.0.1:{port}"
    with process(["api"], dtq_env(redis.url, **settings), work / f"api-{port}.log") as api:
        wait_healthy(base)
        before = peak_rss(api.pid)
        answer: list[tuple[int, float]] = []

        def send() -> None:
            started = time.monotonic()
            status = httpx.post(f"{base}/tasks/bulk", content=body, timeout=120).status_code
            answer.append((status, time.monotonic() - started))

        sender = threading.Thread(target=send)
        slowest = 0.0
        with httpx.Client(base_url=base, timeout=60) as http:
            sender.start()
            while sender.is_alive():
                started = time.monotonic()
                http.get("/healthz")
                slowest = max(slowest, time.monotonic() - started)
        sender.join()
        ((status, seconds),) = answer
        return {"status": status, "seconds": seconds, "rss_mib": (peak_rss(api.pid) - before) / MIB, "healthz": slowest}


def idle_queues(redis: PrivateRedis, work: Path, count: int = 1000) -> dict[str, float]:
    pipe = redis.client.pipeline()
    for n in range(count):
        pipe.sadd("dtq:{@}:queues", f"unused-{n:05d}")
    pipe.execute()
    env = dtq_env(redis.url, queues_idle_ttl="3", scheduler_janitor_interval="1", queues_max=str(count + 10))
    with process(["scheduler"], env, work / "scheduler.log") as scheduler:
        meter = psutil.Process(scheduler.pid)
        time.sleep(1.0)  # start-up, not measured
        first = _cpu_share(meter, 2.0)
        while redis.client.scard("dtq:{@}:queues") > 0:
            time.sleep(0.2)  # waiting on another process's outcome: nothing to subscribe to
        after = _cpu_share(meter, 3.0)
    return {"queues": count, "cpu_before": first, "cpu_after": after}


def _cpu_share(meter: psutil.Process, seconds: float) -> float:
    start = meter.cpu_times()
    time.sleep(seconds)  # the measurement window itself
    end = meter.cpu_times()
    return float(end.user + end.system - start.user - start.system) / seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        with PrivateRedis(work / "redis") as redis:
            raised = huge_bulk(redis, work, 16 * MIB)
            default = huge_bulk(redis, work, None)
            queues = idle_queues(redis, work)
    print("| run | answer | seconds | API peak RSS growth | slowest /healthz |")
    print("|---|---|---|---|---|")
    for name, row in (("16 MiB of {} (limit raised to 16 MiB)", raised), ("16 MiB of {} (default limit)", default)):
        print(f"| {name} | {row['status']:.0f} | {row['seconds']:.2f} | {row['rss_mib']:.0f} MiB | "
              f"{row['healthz'] * 1000:.0f} ms |")  # fmt: skip
    print()
    print(f"scheduler CPU with {queues['queues']:.0f} unused queues: {queues['cpu_before']:.1%} of a core; "
          f"after they left the index: {queues['cpu_after']:.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
