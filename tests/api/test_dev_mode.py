"""`dtq dev` as a user runs it: a subprocess with no Redis configured, driven over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.processes import DTQ
from tests.support.redis_server import free_port

BODIES = [
    ("/tasks", b'{"priority": true, "task": "high-priority task"}'),
    ("/tasks/bulk", b'[{"priority": true, "task": "high-priority task"}, {"priority": false, "task": "low"}]'),
    ("/tasks/schedule", b'{"priority": false, "task": "scheduled task", "time": "2020-01-01T00:00:00Z"}'),
]


def test_the_original_curl_examples_work_with_nothing_but_python(tmp_path: Path) -> None:
    port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTQ_")}
    env["DTQ_WORKER_HEALTH_FILE"] = str(tmp_path / "health")
    log = (tmp_path / "dev.log").open("wb")
    process = subprocess.Popen([DTQ, "dev", "--port", str(port), "--redis-port", str(redis_port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "dev.log").read_text()
            time.sleep(0.1)
        ids: list[str] = []
        for path, body in BODIES:
            response = httpx.post(f"{base}{path}", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 200, response.text
            ids += response.json().get("ids", [response.json().get("id")])
        deadline = time.monotonic() + 20
        while {httpx.get(f"{base}/tasks/{i}").json()["state"] for i in ids} != {"succeeded"}:
            assert time.monotonic() < deadline, (tmp_path / "dev.log").read_text()
            time.sleep(0.1)
        cli = subprocess.run([DTQ, "queues", "--json"], env={**env, "DTQ_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"},
                             capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
        assert cli.returncode == 0 and '"succeeded": 4' in cli.stdout, cli.stderr
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0
    output = (tmp_path / "dev.log").read_text()
    assert "EMBEDDED IN MEMORY" in output
