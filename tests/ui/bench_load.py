"""How long the dashboard's overview takes to load with 100 queues and 100,000 tasks in Redis.

    .venv/bin/python -m tests.ui.bench_load [--queues 100] [--tasks 100000] [--runs 5]

Starts its own redis-server and a real `dtq api` process, fills the queues (most tasks ready,
across all priorities, a tenth scheduled, some dead), then opens /ui/ in headless Chromium with
an empty profile each run and reads the page's own marks, set once the queue table, then the table and both charts,
show their first data: milliseconds from navigation start (Navigation Timing's origin), for a
new browser, a first visit (cache cleared) and a reload, plus the API calls the overview waits
for. Exits 1 when a median is over --budget ms.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from selenium.webdriver.chrome.webdriver import WebDriver

from dtq.client import Client
from dtq.task import TaskRequest
from tests.conftest import make_settings
from tests.support import processes
from tests.support.redis_server import RedisServer, free_port
from tests.ui import support

CHUNK = 5_000
DETAIL = """
const nav = performance.getEntriesByType('navigation')[0];
const span = (e) => `${e.startTime.toFixed(0)}-${e.responseEnd.toFixed(0)}`;
const parts = [`html ${span(nav)} dcl ${nav.domContentLoadedEventEnd.toFixed(0)}`];
for (const r of performance.getEntriesByType('resource')) parts.push(`${r.name.split('/').pop()} ${span(r)}`);
return parts.join(' | ');
"""


async def fill(settings_url: str, prefix: str, directory: Path, queues: int, tasks: int) -> None:
    settings = make_settings(settings_url, prefix, directory)
    per_queue = tasks // queues
    async with Client(settings) as client:
        batch: list[TaskRequest] = []
        for q in range(queues):
            for n in range(per_queue):
                if q == 0 and n % 10:  # q000's ready tasks fail once and become dead letters
                    request = TaskRequest(task="charge_card", payload=n, queue=f"q{q:03}", max_retries=0)
                elif n % 10 == 0:
                    request = TaskRequest(task="report", payload=n, queue=f"q{q:03}", delay=3600 + n)
                else:
                    request = TaskRequest(task="work", payload={"n": n}, queue=f"q{q:03}", priority=n % 10)
                batch.append(request)
                if len(batch) == CHUNK:
                    await client.enqueue_many(batch)
                    batch = []
        if batch:
            await client.enqueue_many(batch)


def render_times(driver: WebDriver, url: str) -> tuple[float, float]:
    """Open `url`; (ms until the queue table, ms until table and charts) from navigation start."""
    driver.get(url)
    deadline = time.monotonic() + 30
    while (full := support.rendered_ms(driver)) is None:
        assert time.monotonic() < deadline, "the overview never rendered"
        time.sleep(0.01)  # polling the page's own mark; the figure itself comes from the page
    table = support.rendered_ms(driver, support.TABLE_RENDERED)
    rows = driver.execute_script("return document.querySelectorAll('tr[data-key]').length")
    assert table is not None and rows > 0, "no queue rows rendered"
    if os.environ.get("BENCH_DETAIL"):
        print("   ", driver.execute_script(DETAIL))
    return table, full


def measure(url: str, runs: int) -> dict[str, list[tuple[float, float]]]:
    """Each run: a new Chromium on an empty profile opens the page (new browser), then, with its
    HTTP cache cleared, opens it again (first visit), then reloads it (warm)."""
    samples: dict[str, list[tuple[float, float]]] = {"new browser": [], "first visit": [], "reload": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="dtq-bench-chromium-") as profile:
            driver = support.make_driver(Path(profile))
            try:
                samples["new browser"].append(render_times(driver, url))
                driver.get("about:blank")
                driver.execute_cdp_cmd("Network.clearBrowserCache", {})
                samples["first visit"].append(render_times(driver, url))
                samples["reload"].append(render_times(driver, url))
            finally:
                driver.quit()
    return samples


def api_timings(base: str, runs: int) -> dict[str, float]:
    # /stats sums 60 per-minute hashes of every queue; one queue's shows what a global series would cost
    timings: dict[str, list[float]] = {"/ui/whoami": [], "/queues": [], "/stats?minutes=60": [],
                                       "/stats?minutes=60&queue=q001": []}  # fmt: skip
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(runs):
            for path, samples in timings.items():
                start = time.perf_counter()
                http.get(path).raise_for_status()
                samples.append((time.perf_counter() - start) * 1000)
    return {path: statistics.median(samples) for path, samples in timings.items()}


def describe(samples: list[float]) -> str:
    return f"median {statistics.median(samples):5.0f} ms (min {min(samples):5.0f}, max {max(samples):5.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queues", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1000.0, help="ms the cold median may take")
    options = parser.parse_args()
    logging.getLogger("dtq").setLevel(logging.CRITICAL)  # the dead-letter burst would log each failure
    with tempfile.TemporaryDirectory(prefix="dtq-bench-") as scratch:
        directory = Path(scratch)
        redis = RedisServer(directory).start()
        api = None
        try:
            started = time.perf_counter()
            asyncio.run(fill(redis.url, "bench", directory, options.queues, options.tasks))
            support.run_burst(make_settings(redis.url, "bench", directory, worker={"concurrency": 64}), ["q000"])
            print(
                f"filled {options.queues} queues with {options.tasks:,} tasks in {time.perf_counter() - started:.1f} s"
            )
            port = free_port()
            api = processes.start(["api", "--port", str(port)], processes.dtq_env(redis.url, "bench", directory),
                                  directory / "api.log")  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{base}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (directory / "api.log").read_text()
                time.sleep(0.05)
            counts = httpx.get(f"{base}/queues").json()["queues"]
            total = sum(q["ready"] + q["scheduled"] + q["dead"] + q["succeeded"] for q in counts)
            print(f"API sees {len(counts)} queues, {total:,} tasks")
            samples = measure(f"{base}/ui/", options.runs)
            print(f"{'':<12}  {'queue table rendered':<36}  table and both charts rendered")
            for name, pairs in samples.items():
                print(f"{name:<12}  {describe([t for t, _ in pairs]):<36}  {describe([f for _, f in pairs])}")
            for path, ms in api_timings(base, 10).items():
                print(f"  GET {path:<28} median {ms:5.1f} ms")
        finally:
            if api is not None:
                processes.stop(api)
            redis.stop()
    worst = max(statistics.median([f for _, f in pairs]) for pairs in samples.values())
    return 0 if worst <= options.budget else 1


if __name__ == "__main__":
    raise SystemExit(main())
