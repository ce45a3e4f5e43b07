"""The formats the Lua scripts and the Python readers share agree, checked by running the Lua.

Each Lua include that defines a format is evaluated on the session's real Redis next to its
Python type: the run record (include/run.lua, dtq.runs), the priority levels
(include/priority.lua, dtq.priority), the queued lists' entries (include/queued.lua,
dtq.store.queued), the counted events (include/events.lua, dtq.events), and what scripts read
of a record: its name, priority and retries (include/spec.lua, dtq.task).
"""

from __future__ import annotations

from typing import Any

import pytest

from dtq import priority
from dtq.client import Client
from dtq.events import EVENT_NAMES
from dtq.runs import Run, lease_token
from dtq.settings import TaskDefaults
from dtq.store import queued
from dtq.store.scripts import LUA_DIR
from dtq.task import UNKNOWN_TASK_NAME, TaskRequest, decode_spec, prepare


async def lua(client: Client, include: str, body: str, *args: Any) -> Any:
    """Evaluate `body` after the includes named in `include` ("a+b", in that order), with ARGV = args."""
    sources = [(LUA_DIR / "include" / f"{name}.lua").read_text() for name in include.split("+")]
    return await client.store.redis.eval("\n".join([*sources, body]), 0, *args)


RUNS = [Run(1, 1_700_000_000_123, lease_token("host:12:ab", 7)), Run(0, None, ""), Run(3, 5, ""), Run(12, 0, "w#1")]


@pytest.mark.parametrize("run", RUNS, ids=[r.encode() for r in RUNS])
async def test_run_records_written_by_lua_parse_in_python(client: Client, run: Run) -> None:
    started = "" if run.started_ms is None else run.started_ms
    written = await lua(client, "run", "return run_record(ARGV[1], ARGV[2], ARGV[3])", run.attempts, started, run.token)
    assert written.decode() == run.encode() and Run.parse(written) == run


@pytest.mark.parametrize("run", RUNS, ids=[r.encode() for r in RUNS])
async def test_run_records_written_by_python_parse_in_lua(client: Client, run: Run) -> None:
    body = "local a, s, t = run_fields(ARGV[1]); return {a, s, t, claimed_with(ARGV[1], ARGV[2]) and 1 or 0}"
    attempts, started, token, claimed = await lua(client, "run", body, run.encode(), run.token or "nobody")
    expected_started = "" if run.started_ms is None else str(run.started_ms)
    assert (attempts, started.decode(), token.decode()) == (run.attempts, expected_started, run.token)
    assert claimed == (1 if run.token else 0)


async def test_a_missing_run_record_is_no_run_on_both_sides(client: Client) -> None:
    attempts, started, token = await lua(client, "run", "return {run_fields(false)}")
    assert Run.parse(None) == Run(attempts, None, token.decode()) and started == b""


async def test_the_worker_a_token_names_is_the_same_on_both_sides(client: Client) -> None:
    token = lease_token("pod-7:31:0a1b2c", 42)
    assert (await lua(client, "run", "return token_worker(ARGV[1])", token)).decode() == Run(1, 0, token).worker


async def test_priority_constants_agree(client: Client) -> None:
    highest, default = await lua(client, "priority", "return {HIGHEST_PRIORITY, DEFAULT_PRIORITY}")
    assert (highest, default) == (priority.HIGHEST_PRIORITY, priority.DEFAULT_PRIORITY)


@pytest.mark.parametrize("ready_ms", [0, 35, 36, 1_765_000_000_123, 2**42 - 1])
async def test_queued_entries_agree(client: Client, ready_ms: int) -> None:
    body = "local p = new_pushes(); add_push(p, 5, ARGV[1], tonumber(ARGV[2])); local id, at = parse_queued(ARGV[3])"
    body += "; return {p[5][1], id, tostring(at)}"
    task_id = "0190a6f2-7b1c-7def-8abc-0123456789ab"
    written, read_id, read_ms = await lua(client, "bulk+priority+queued", body, task_id, ready_ms,
                                          queued.entry(task_id, ready_ms))  # fmt: skip
    assert written.decode() == queued.entry(task_id, ready_ms)
    assert queued.parse(written.decode()) == (task_id, ready_ms) == (read_id.decode(), int(read_ms))


RECORDS = [
    *(spec for p in priority.PRIORITY_LEVELS for spec in prepare([TaskRequest(task="t", priority=p)], TaskDefaults())),
    *prepare([TaskRequest(task='"priority":1', payload={"priority": 0}, max_retries=0)], TaskDefaults()),
]
LEGACY = b'{"id":"x","task":"t","queue":"q","priority":8,"max_retries":2,"timeout":1.0,"payload":{"priority":1}}'


@pytest.mark.parametrize("raw", [r.spec for r in RECORDS] + [LEGACY], ids=lambda raw: raw.decode()[:40])
async def test_the_priority_and_retries_scripts_read_are_the_records(client: Client, raw: bytes) -> None:
    body = "return {priority_of(ARGV[1]), max_retries_of(decode_spec(ARGV[1]))}"
    level, retries = await lua(client, "priority+spec", body, raw)
    spec = decode_spec(raw)
    assert (level, retries) == (spec.priority, spec.max_retries)


async def test_event_names_agree(client: Client) -> None:
    names = await lua(client, "events", "return EVENTS")
    assert tuple(n.decode() for n in names) == EVENT_NAMES


async def test_an_unreadable_record_has_the_same_name_on_both_sides(client: Client) -> None:
    body = "return {name_of(decode_spec(ARGV[1])), name_of(decode_spec(false)), name_of(decode_spec(ARGV[2]))}"
    bad, missing, good = await lua(client, "spec", body, "not json", '{"task": "send"}')
    assert (bad.decode(), missing.decode(), good.decode()) == (UNKNOWN_TASK_NAME, UNKNOWN_TASK_NAME, "send")
