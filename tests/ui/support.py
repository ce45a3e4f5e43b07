"""What the dashboard's browser tests and its load benchmark share: headless Chromium, the API
served behind a path prefix (as an ingress would), seeding tasks, and reading the load time."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from starlette.types import ASGIApp, Receive, Scope, Send

import dtq
from dtq.settings import Settings
from dtq.worker import Worker
from services.api.app import create_app
from tests.support.redis_server import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "ui"
PREFIX = "/ops/dtq"  # every test reaches the API under this prefix, which the "ingress" strips
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--window-size=1400,1000")  # fmt: skip
RENDERED = "dtq:overview-rendered"  # marks the overview sets: its table, charts included, first drawn
TABLE_RENDERED = "dtq:queues-rendered"  # its queue table first drawn


def chromium_installed() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def make_driver(profile: Path | None = None) -> WebDriver:
    """Headless Debian Chromium through Debian's chromedriver (Selenium Manager cannot download)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile or tempfile.mkdtemp(prefix='dtq-chromium-')}")
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def behind_prefix(app: ASGIApp, prefix: str) -> ASGIApp:
    """The app as seen through an ingress that serves it under `prefix` and strips it."""

    async def proxied(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if not path.startswith(prefix + "/"):
                await send({"type": "http.response.start", "status": 404, "headers": []})
                await send({"type": "http.response.body", "body": b"outside the prefix"})
                return
            scope = {**scope, "path": path[len(prefix) :], "raw_path": path[len(prefix) :].encode()}
        await app(scope, receive, send)

    return proxied


@contextmanager
def serve_api(settings: Settings, tokens: str | None = None) -> Iterator[str]:
    """The real API app on uvicorn in a thread, under PREFIX; yields its base URL (with the prefix)."""
    if tokens:
        settings = settings.with_changes(api={"tokens": tokens})
    port = free_port()
    config = uvicorn.Config(behind_prefix(create_app(settings), PREFIX), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dtq-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}{PREFIX}"
    finally:
        server.should_exit = True
        thread.join(15)


def api_client(base: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base, headers=headers, timeout=30)


def enqueue(api: httpx.Client, tasks: list[dict[str, Any]]) -> list[str]:
    """Enqueue through the API's bulk endpoint; returns the ids."""
    ids: list[str] = []
    for start in range(0, len(tasks), 10_000):
        response = api.post("/tasks/bulk", json=tasks[start : start + 10_000])
        assert response.status_code == 200, response.text
        ids += response.json()["ids"]
    return ids


handlers = dtq.App(builtins=True)


@handlers.task(name="charge_card")
def charge_card(payload: Any) -> None:
    """Always fails (enqueued with max_retries 0, it goes straight to the dead letters)."""
    raise RuntimeError(f"card declined: {payload}")


@handlers.task(name="nap")
async def nap(payload: float) -> None:
    """Sleeps, so a worker has something in flight."""
    await asyncio.sleep(payload)


def run_burst(settings: Settings, queues: list[str]) -> None:
    """Work `queues` until they are empty (in this thread's own event loop)."""

    async def go() -> None:
        async with asyncio.timeout(30):
            await Worker(handlers, settings, queues=queues, burst=True).run()

    asyncio.run(go())


@contextmanager
def running_worker(settings: Settings, queues: list[str], concurrency: int = 4) -> Iterator[Worker]:
    """A worker running in a thread until the block ends."""
    worker = Worker(handlers, settings, queues=queues, concurrency=concurrency)
    loops: list[asyncio.AbstractEventLoop] = []
    ready = threading.Event()

    async def go() -> None:
        loops.append(asyncio.get_running_loop())
        ready.set()
        await worker.run()

    thread = threading.Thread(target=asyncio.run, args=(go(),), name="dtq-worker", daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield worker
    finally:
        loops[0].call_soon_threadsafe(worker.request_stop)
        thread.join(15)


def rendered_ms(driver: WebDriver, mark: str = RENDERED) -> float | None:
    """Milliseconds from navigation start until the overview's first data was rendered."""
    value = driver.execute_script(
        "const m = performance.getEntriesByName(arguments[0]); return m.length ? m[0].startTime : null;", mark
    )
    return None if value is None else float(value)


def foreign_requests(driver: WebDriver) -> list[str]:
    """Every resource the page loaded from another origin (there must be none)."""
    script = (
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => !n.startsWith(location.origin) && !n.startsWith('data:'))"
    )
    found: list[str] = driver.execute_script(script)
    return found


def screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
