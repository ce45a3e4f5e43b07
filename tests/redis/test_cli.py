"""The `dtq` command against a real Redis, as an operator types it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dtq
from dtq.client import Client
from dtq.settings import Settings
from tests.support.processes import DTQ, dtq_env


def dtq_command(settings: Settings, tmp_path: Path, *args: str) -> str:
    env = dtq_env(settings.redis.url.get_secret_value(), settings.redis.key_prefix, tmp_path)
    done = subprocess.run([DTQ, *args], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_dead_redrive_and_its_old_name_retry_requeue_dead_tasks(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    first, second = [await client.enqueue("fail", {"message": str(n)}, max_retries=0) for n in range(2)]
    await dtq.Worker(dtq.App(builtins=True), settings, burst=True).run()
    assert (await client.queue_stats("default")).dead == 2
    assert "redrove 1 task(s)" in dtq_command(settings, tmp_path, "dead", "redrive", first.id)
    assert ((await client.queue_stats("default")).dead, (await client.queue_stats("default")).ready) == (1, 1)
    assert "redrove 1 task(s)" in dtq_command(settings, tmp_path, "dead", "retry", second.id)
    assert ((await client.queue_stats("default")).dead, (await client.queue_stats("default")).ready) == (0, 2)
    usage = dtq_command(settings, tmp_path, "dead", "--help")
    assert "redrive" in usage and "retry" not in usage
