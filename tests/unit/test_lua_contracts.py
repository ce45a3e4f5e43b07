"""Every script has a header, and its builder passes exactly the KEYS the header documents."""

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


def test_includes_are_inlined_and_the_shebang_can_be_dropped() -> None:
    source = read_script("claim")
    assert "@include" not in source and "local function now_ms" in source
    assert source.startswith("#!lua flags=allow-oom\n")
    assert not without_shebang(source).startswith("#!")


def test_scripts_that_add_state_are_refused_under_oom_and_the_rest_are_not() -> None:
    adding = {name for name in script_names() if "allow-oom" not in read_script(name).splitlines()[0]}
    assert adding == {"enqueue", "inspect", "queue_stats"}
    assert all("no-writes" in read_script(n).splitlines()[0] for n in ("inspect", "queue_stats"))


@pytest.mark.parametrize("name", sorted(BUILT))
def test_header_lists_one_key_per_line(name: str) -> None:
    lines = (LUA_DIR / f"{name}.lua").read_text().split("\n-- @include", 1)[0].splitlines()
    keys = [line for line in lines if line.startswith("-- KEYS[")]
    assert keys and all(line.count("KEYS[") == 1 for line in keys), f"{name}.lua: one KEYS[i] per line"
