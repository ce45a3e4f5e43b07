"""`dtq dev` as a user runs it, driven by the seed's own curl lines as the README shows them.

The lines are read from README.md and run with the real curl binary, as written: no
`Content-Type` header, so curl sends `application/x-www-form-urlencoded`, which the original
server ignored. Only the address changes, to the test's free port.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import DTQ, ROOT
from tests.support.redis_server import RedisServer, free_port

SEED_LINE = re.compile(r"^curl -X POST http://localhost:3000/tasks\S* -d '[^']*'$", re.MULTILINE)
README_ADDRESS = "http://localhost:3000"


def seed_curl_lines() -> list[str]:
    """The README's three original curl lines, one per original endpoint."""
    lines = SEED_LINE.findall((ROOT / "README.md").read_text())
    assert [shlex.split(line)[3].removeprefix(README_ADDRESS) for line in lines] == [
        "/tasks",
        "/tasks/bulk",
        "/tasks/schedule",
    ], "README.md must show the seed's three curl lines, each on one line"
    assert not any(" -H " in line for line in lines)
    return lines


def curl(line: str, base: str) -> tuple[int, dict[str, object]]:
    """Run one README line against `base`; the status and the parsed body."""
    curl_binary = shutil.which("curl")
    assert curl_binary, "curl is not installed (apt-get install curl); make test installs it"
    argv = shlex.split(line.replace(README_ADDRESS, base))
    argv[0] = curl_binary
    done = subprocess.run([*argv, "--silent", "--write-out", "\n%{http_code}"],
                          capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


def wait_ready(base: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


@pytest.mark.parametrize("redis", ["embedded", "real"])
def test_the_seed_curl_lines_run_verbatim_and_their_tasks_finish(
    tmp_path: Path, redis: str, redis_server: RedisServer, prefix: str
) -> None:
    port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTQ_")}
    env["DTQ_WORKER_HEALTH_FILE"] = str(tmp_path / "health")
    cli_url = f"redis://127.0.0.1:{redis_port}/0"
    if redis == "real":  # `dtq dev` against a Redis of its own: tasks with no handler still just log
        env.update(DTQ_REDIS_URL=redis_server.url, DTQ_REDIS_KEY_PREFIX=prefix, DTQ_WORKER_UNKNOWN_TASKS="log")
        cli_url = redis_server.url
    log_path = tmp_path / "dev.log"
    process = subprocess.Popen([DTQ, "dev", "--port", str(port), "--redis-port", str(redis_port)],
                               env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, log_path)
        ids: list[str] = []
        for line in seed_curl_lines():
            status, answer = curl(line, base)
            assert status == 200, (line, answer)
            ids += answer.get("ids") or [answer["id"]]  # type: ignore[operator, list-item]
        assert len(ids) == 4
        deadline = time.monotonic() + 20
        while {httpx.get(f"{base}/tasks/{i}").json()["state"] for i in ids} != {"succeeded"}:
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        queues = subprocess.run([DTQ, "queues", "--json"], env={**env, "DTQ_REDIS_URL": cli_url},
                                capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
        assert queues.returncode == 0 and '"succeeded": 4' in queues.stdout, queues.stderr
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0
    banner_and_log = log_path.read_text()
    assert ("EMBEDDED IN MEMORY" in banner_and_log) == (redis == "embedded")
