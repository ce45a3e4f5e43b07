"""The formats the Lua scripts and the Python readers share agree, checked by running the Lua.

Each Lua include that defines a format is evaluated on the session's real Redis next to its
Python type: the run record (include/run.lua, dtq.runs), the ready-set score and default
priority (include/band.lua, dtq.priority), the counted events (include/events.lua,
dtq.events) and the name of an unreadable record (include/spec.lua, dtq.task).
"""

from __future__ import annotations

from typing import Any

import pytest

from dtq import priority
from dtq.client import Client
from dtq.events import EVENT_NAMES
from dtq.runs import Run, lease_token
from dtq.store.scripts import LUA_DIR
from dtq.task import UNKNOWN_TASK_NAME


async def lua(client: Client, include: str, body: str, *args: Any) -> Any:
    """Evaluate `body` after the include `include`, with ARGV = args."""
    source = (LUA_DIR / "include" / f"{include}.lua").read_text() + "\n" + body
    return await client.store.redis.eval(source, 0, *args)


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


@pytest.mark.parametrize("level", priority.PRIORITY_LEVELS)
async def test_ready_scores_agree(client: Client, level: int) -> None:
    ms = 1_765_000_000_000
    score = await lua(client, "band", "return tostring(ready_score(ARGV[1], tonumber(ARGV[2])))", level, ms)
    assert int(score) == priority.ready_score(level, ms)
    low, high = priority.band(level)
    assert low <= int(score) <= high and priority.ready_ms(int(score)) == ms


async def test_band_constants_agree(client: Client) -> None:
    body = "return {tostring(BAND), HIGHEST_PRIORITY, DEFAULT_PRIORITY, tostring(ready_score(nil, 0))}"
    band, highest, default, unset = await lua(client, "band", body)
    assert (int(band), highest, default) == (priority.BAND, priority.HIGHEST_PRIORITY, priority.DEFAULT_PRIORITY)
    assert int(unset) == priority.ready_score(priority.DEFAULT_PRIORITY, 0)  # a record without one


async def test_event_names_agree(client: Client) -> None:
    names = await lua(client, "events", "return EVENTS")
    assert tuple(n.decode() for n in names) == EVENT_NAMES


async def test_an_unreadable_record_has_the_same_name_on_both_sides(client: Client) -> None:
    body = "return {name_of(decode_spec(ARGV[1])), name_of(decode_spec(false)), name_of(decode_spec(ARGV[2]))}"
    bad, missing, good = await lua(client, "spec", body, "not json", '{"task": "send"}')
    assert (bad.decode(), missing.decode(), good.decode()) == (UNKNOWN_TASK_NAME, UNKNOWN_TASK_NAME, "send")
