"""Every script has a header, and its builder passes exactly the KEYS and ARGV it documents.

ARGV is checked three ways: the header's fixed arguments (ARGV[n]) are exactly the ones the body
reads by number, the variable part (ARGV[n..]) starts where the body starts reading in a loop
(or through the groups include), and the builder, given no items, passes exactly the fixed ones.
"""

from __future__ import annotations

import re

import pytest

from dtq.keys import queue_keys
from dtq.settings import RetentionSettings
from dtq.store import calls
from dtq.store.scripts import LUA_DIR, read_script, script_names, without_shebang

KEYS = queue_keys("p", "q")
R = RetentionSettings()
BUILT = {
    "enqueue": calls.enqueue(KEYS, [], R),
    "claim": calls.claim(KEYS, count=1, lease_ms=1, token="t", order=""),
    "complete": calls.complete(KEYS, []),
    "retry": calls.retry(KEYS, []),
    "bury": calls.bury(KEYS, "dead", []),
    "release": calls.release(KEYS, []),
    "extend": calls.extend(KEYS, [], 1),
    "promote": calls.promote(KEYS, 1),
    "requeue_expired": calls.requeue_expired(KEYS, 1),
    "cancel": calls.cancel(KEYS, "id"),
    "redrive": calls.redrive(KEYS, []),
    "purge": calls.purge(KEYS, []),
    "expire": calls.expire(KEYS, 1, R),
    "inspect": calls.inspect(KEYS, []),
    "queue_stats": calls.queue_stats(KEYS),
    "take_permit": calls.take_permit("p:rate:x", 1.0, 1),
    "register_queues": calls.register_queues("p:{@}:queues", [], 1),
    "retire": calls.retire(KEYS, 1),
    "still_retired": calls.still_retired(KEYS),
    "unstore": calls.unstore(KEYS, []),
    "upgrade_ready": calls.upgrade_ready(KEYS, 1),
}


def test_every_script_has_a_builder() -> None:
    assert set(script_names()) == set(BUILT)


@pytest.mark.parametrize("name", sorted(BUILT))
def test_header_documents_keys_argv_and_returns(name: str) -> None:
    source = (LUA_DIR / f"{name}.lua").read_text()
    header = source.split("\n-- @include", 1)[0] if "-- @include" in source else source[:2000]
    assert "Returns" in header, f"{name}.lua: no Returns section"
    documented = {int(n) for n in re.findall(r"KEYS\[(\d+)\]", header)}
    ranges = re.findall(r"KEYS\[(\d+)\.\.(\d+)\]", header)
    for low, high in ranges:
        documented |= set(range(int(low), int(high) + 1))
    assert documented == set(range(1, len(BUILT[name].keys) + 1)), f"{name}.lua header vs builder KEYS"


FIXED = re.compile(r"ARGV\[(\d+)\](?!\.\.)")
VARIABLE = re.compile(r"ARGV\[(\d+)\.\.\]")
# Where a body starts reading a variable number of arguments: the groups include, a numeric for
# loop up to #ARGV, or a cursor set just before a `while i <= #ARGV` loop.
LOOPS = re.compile(r"entries\((\d+),|for \w+ = (\d+), #ARGV|local \w+ = (\d+)\nwhile \w+ <= #ARGV")


def documented_argv(header: str) -> tuple[set[int], int | None]:
    """The fixed ARGV indices and the start of the variable part the header's ARGV lines name."""
    lines = "\n".join(line for line in header.splitlines() if line.startswith("-- ARGV["))
    starts = [int(n) for n in VARIABLE.findall(lines)]
    assert len(starts) <= 1, "at most one variable part"
    return {int(n) for n in FIXED.findall(lines)}, (starts[0] if starts else None)


def read_argv(body: str) -> tuple[set[int], int | None]:
    """The ARGV indices `body` (comments dropped) reads by number, and where it starts a loop."""
    code = "\n".join(line.split("--", 1)[0] if not line.startswith("#!") else "" for line in body.splitlines())
    starts = {int(next(g for g in m.groups() if g)) for m in LOOPS.finditer(code)}
    assert len(starts) <= 1, "the variable part is read from one place"
    return {int(n) for n in FIXED.findall(code)}, (starts.pop() if starts else None)


@pytest.mark.parametrize("name", sorted(BUILT))
def test_header_documents_the_argv_the_body_reads_and_the_builder_passes(name: str) -> None:
    source = (LUA_DIR / f"{name}.lua").read_text()
    header, _, own_body = source.partition("\n-- @include")
    fixed, variable = documented_argv(header)
    read, loop = read_argv(own_body + "\n" + read_script(name).split("\n", 1)[1])
    assert fixed == set(range(1, len(fixed) + 1)), f"{name}.lua: fixed ARGV are 1..n"
    assert read == fixed, f"{name}.lua: the body reads ARGV {sorted(read)}, the header names {sorted(fixed)}"
    assert loop == variable, f"{name}.lua: variable ARGV from {loop}, the header says {variable}"
    assert variable is None or variable == len(fixed) + 1, f"{name}.lua: the variable part follows the fixed"
    assert len(BUILT[name].args) == len(fixed), f"{name}: the builder passes {len(BUILT[name].args)} fixed ARGV"


def test_the_argv_check_sees_a_wrong_header() -> None:
    header = "-- ARGV[1] channel   ARGV[2] limit\n-- ARGV[3..] ids"
    assert documented_argv(header) == ({1, 2}, 3)
    body = "local channel = ARGV[1]\nfor i = 2, #ARGV do end -- ARGV[9] in a comment\n"
    assert read_argv(body) == ({1}, 2)  # reads one fixed argument and loops from 2: header is wrong


def test_includes_are_inlined_and_the_shebang_can_be_dropped() -> None:
    source = read_script("claim")
    assert "@include" not in source and "local function now_ms" in source
    assert source.startswith("#!lua flags=allow-oom\n")
    assert not without_shebang(source).startswith("#!")


def test_scripts_that_add_state_are_refused_under_oom_and_the_rest_are_not() -> None:
    adding = {name for name in script_names() if "allow-oom" not in read_script(name).splitlines()[0]}
    assert adding == {"enqueue", "inspect", "queue_stats", "register_queues", "still_retired"}
    readers = ("inspect", "queue_stats", "still_retired")
    assert all("no-writes" in read_script(n).splitlines()[0] for n in readers)


@pytest.mark.parametrize("name", sorted(BUILT))
def test_header_lists_one_key_per_line(name: str) -> None:
    lines = (LUA_DIR / f"{name}.lua").read_text().split("\n-- @include", 1)[0].splitlines()
    keys = [line for line in lines if line.startswith("-- KEYS[")]
    assert keys and all(line.count("KEYS[") == 1 for line in keys), f"{name}.lua: one KEYS[i] per line"
