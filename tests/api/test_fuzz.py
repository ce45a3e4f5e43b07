"""schemathesis, every check and every phase, against a real `dtq api` process with tokens."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dtq.settings import Settings
from tests.api.conftest import ADMIN_TOKEN, PRODUCER_TOKEN
from tests.support import processes
from tests.support.redis_server import free_port

SCHEMATHESIS = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"


def test_the_openapi_contract_holds_under_fuzzing(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = processes.dtq_env(settings.redis.url.get_secret_value(), settings.redis.key_prefix, tmp_path,
                            API_TOKENS=f"{ADMIN_TOKEN}:admin,{PRODUCER_TOKEN}:producer",
                            # schemathesis sends thousands of bad tokens on purpose: expecting
                            # 401s, not the failed-authentication limit (tested in test_auth.py)
                            API_AUTH_FAILURE_RATE="100000", API_AUTH_FAILURE_BURST="100000")  # fmt: skip
    api = processes.start(["api", "--port", str(port)], env, tmp_path / "api.log")
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "api.log").read_text()
            time.sleep(0.1)
        # use_after_free expects a 404 after DELETE; DELETE /tasks/{id} cancels and keeps the
        # record (state "cancelled", readable until its retention ends), as documented.
        run = subprocess.run(
            [SCHEMATHESIS, "run", f"{base}/openapi.json", "--checks", "all", "--exclude-checks", "use_after_free",
             "--max-examples", "25", "--seed", "20261128", "-H", f"Authorization: Bearer {ADMIN_TOKEN}",
             "--no-color"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-6000:]
        assert "passed" in run.stdout
    finally:
        processes.stop(api)
