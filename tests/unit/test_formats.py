"""Each shared format has one home per language, and the copies that must exist agree.

The Lua-vs-Python agreement of each include is run on a real Redis in
tests/redis/test_formats.py; these checks read the sources: no script spells a format out
by hand where its include defines it, every counted event is a known one, and the chart and
the CRD carry the queue-name rule of dtq.keys.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from dtq import priority
from dtq.events import EVENT_NAMES
from dtq.keys import QUEUE_NAME_RULE, QUEUE_PATTERN
from dtq.store.scripts import LUA_DIR, read_script, script_names

ROOT = Path(__file__).resolve().parents[2]
INCLUDES = LUA_DIR / "include"
COUNTED = re.compile(r"count_event\([^,]+,[^,]+,[^,]+,\s*'(\w+)'")


def scripts() -> dict[str, str]:
    """Each script's own text, includes not inlined."""
    return {p.name: p.read_text() for p in LUA_DIR.glob("*.lua")}


def test_every_counted_event_is_a_known_event() -> None:
    counted = {m for source in (*scripts().values(), *(p.read_text() for p in INCLUDES.glob("*.lua")))
               for m in COUNTED.findall(source)}  # fmt: skip
    assert counted and counted <= set(EVENT_NAMES)
    # bury.lua counts its final state ('dead' or 'cancelled') through a variable
    assert set(EVENT_NAMES) - counted <= {"dead", "cancelled"}


def test_the_counted_event_pattern_sees_a_literal() -> None:
    assert COUNTED.findall("count_event(totals, stats, now, 'retried', retried)") == ["retried"]


def test_only_priority_lua_spells_the_default_priority() -> None:
    for name, source in scripts().items():
        assert not re.search(r"\bor 5\b", source), f"{name}: the default priority belongs to priority.lua"
    assert f"DEFAULT_PRIORITY = {priority.DEFAULT_PRIORITY}" in (INCLUDES / "priority.lua").read_text()


def test_only_queued_lua_builds_or_parses_queued_entries() -> None:
    # An entry is "<id>@<ms, base 36>"; the claim's own record ("<id>@<ms>,...") is not one.
    by_hand = re.compile(r"base36\(|, 36\)")
    for name, source in scripts().items():
        assert not by_hand.search(source), f"{name} builds or parses a queued entry itself"


def test_only_run_lua_builds_or_parses_run_records() -> None:
    by_hand = re.compile(r"\.\. '\|' \.\.|'\^\(%d\+\)\|")  # "x .. '|' .. y" or a pattern matching one
    for name, source in scripts().items():
        assert not by_hand.search(source), f"{name} builds or parses a run record itself"
    for include in INCLUDES.glob("*.lua"):
        if include.stem not in ("run", "count"):  # count.lua builds totals fields: dtq.events
            assert not by_hand.search(include.read_text()), include.name


def test_every_script_using_a_format_includes_it() -> None:
    uses = {"run": ("run_record(", "run_fields(", "claimed_with(", "check_held(", "find_lapsed("),
            "queued": ("push(", "pop_queued(", "uncount(", "is_queued(", "queued_total("), "events": ("EVENTS",),
            "spec": ("decode_spec(", "name_of(", "priority_of(", "max_retries_of(")}  # fmt: skip
    for name in script_names():
        own = (LUA_DIR / f"{name}.lua").read_text()
        for include, words in uses.items():
            if any(w in own for w in words):
                assert f"-- @include {include}\n" in own, f"{name}.lua uses {include}.lua without including it"
        read_script(name)  # every include it names exists


def test_the_chart_and_the_crd_carry_the_queue_name_rule() -> None:
    values = json.loads((ROOT / "charts/dtq/values.schema.json").read_text())
    found = _patterns(values)
    crd = yaml.safe_load((ROOT / "charts/dtq/crds/workerautoscalers.dtq.dev.yaml").read_text())
    found += _patterns(crd)
    queue_like = [p for p in found if QUEUE_NAME_RULE in p]
    assert len(queue_like) >= 4  # worker queues, autoscaler queues, shard map, CRD queues
    for pattern in queue_like:
        assert pattern == QUEUE_PATTERN or pattern.count(QUEUE_NAME_RULE) == 2, pattern  # the shard map names two
    assert not [p for p in found if "A-Za-z0-9_.-]{1," in p and QUEUE_NAME_RULE not in p and "{1,32}" not in p]


def _patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [p for v in node.values() for p in _patterns(v)]
    if isinstance(node, list):
        return [p for v in node for p in _patterns(v)]
    return []
