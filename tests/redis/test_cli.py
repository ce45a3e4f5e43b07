"""The `dtq` command against a real Redis, as an operator types it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson

import dtq
from dtq.client import Client
from dtq.settings import Settings
from tests.support.processes import DTQ, dtq_env


def dtq_command(settings: Settings, tmp_path: Path, *args: str) -> str:
    env = dtq_env(settings.redis.url.get_secret_value(), settings.redis.key_prefix, tmp_path)
    env["COLUMNS"] = "2000"  # wide enough that Rich does not wrap a cell the assertions read whole
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


# What a producer or a failing handler can store: Rich markup (an unopened closing tag crashes
# the renderer, a link hides its target), terminal escapes (clear screen, set the window title),
# and the characters that end a line without being \n (NEL, LINE and PARAGRAPH SEPARATOR).
HOSTILE_NAME = "x[/y][link=https://evil.example]n[/link]"
HOSTILE_MESSAGE = "boom [/y] [link=https://evil.example]click[/link] \x1b[2J \x1b]0;pwned\x07 \x85 \u2028 \u2029 end"
RAW = ("\x1b", "\x07", "\x85", "\u2028", "\u2029")
ESCAPED = ("\\x1b[2J", "\\x1b]0;pwned\\x07", "\\x85", "\\u2028", "\\u2029", "[link=https://evil.example]click[/link]")


def shows_plainly(output: str, *expected: str) -> None:
    for raw in RAW:
        assert raw not in output, (raw, output)
    for text in expected:
        assert text in output, (text, output)


async def dead_hostile_task(client: Client, settings: Settings) -> str:
    """A task with a hostile name and payload, dead-lettered by a real worker with a hostile error."""
    app = dtq.App()

    @app.task(name=HOSTILE_NAME)
    def fails(_: object) -> None:
        raise ValueError(HOSTILE_MESSAGE)

    enqueued = await client.enqueue(HOSTILE_NAME, {"note": HOSTILE_MESSAGE}, max_retries=0)
    await dtq.Worker(app, settings, burst=True).run()
    assert (await client.queue_stats("default")).dead == 1
    return enqueued.id


async def test_status_shows_a_hostile_task_and_its_error_as_plain_text(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    task_id = await dead_hostile_task(client, settings)
    shown = dtq_command(settings, tmp_path, "status", task_id)
    shows_plainly(shown, HOSTILE_NAME, "ValueError: boom [/y]", *ESCAPED)
    as_json = dtq_command(settings, tmp_path, "status", task_id, "--json")
    shows_plainly(as_json, HOSTILE_NAME)
    assert orjson.loads(as_json)["error"]["message"] == HOSTILE_MESSAGE  # escaped only for the terminal


async def test_dead_list_shows_hostile_names_and_errors_as_plain_text(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    await dead_hostile_task(client, settings)
    await client.enqueue("fail", {"message": "an ordinary failure"}, max_retries=0)
    await dtq.Worker(dtq.App(builtins=True), settings, burst=True).run()
    shown = dtq_command(settings, tmp_path, "dead", "list")
    shows_plainly(shown, HOSTILE_NAME, "ValueError: boom [/y]", "\\x1b[2J", "an ordinary failure")
    as_json = dtq_command(settings, tmp_path, "dead", "list", "--json")
    shows_plainly(as_json, HOSTILE_NAME)
    assert {t["error"]["message"] for t in orjson.loads(as_json)["tasks"]} >= {HOSTILE_MESSAGE}


async def test_workers_shows_a_hostile_heartbeat_record_as_plain_text(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    fields = {"id": HOSTILE_NAME, "host": "h\x1b]0;pwned\x07", "pid": 1, "queues": "default", "concurrency": 1,
              "in_flight": 0, "processed": 0, "failed": 0, "state": "\x1b[2Jup\u2028", "started_at": 0}  # fmt: skip
    await client.store.heartbeat(HOSTILE_NAME, fields, ttl=60)
    shown = dtq_command(settings, tmp_path, "workers")
    shows_plainly(shown, HOSTILE_NAME, "\\x1b[2Jup\\u2028")
    shows_plainly(dtq_command(settings, tmp_path, "workers", "--json"))
