"""The store seam: library code outside dtq/store/ reaches Redis only through a `Store`.

No attribute `.redis`, `.scripts`, `.global_keys` or `.keys(...)` is touched outside dtq/store/,
and no module there imports the key builders or the script runner; the Store's methods are
the way in. (Tests may look underneath: they check what the Store wrote.)
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = [
    *(ROOT / "dtq").rglob("*.py"),
    *(ROOT / "services").rglob("*.py"),
    *(ROOT / "operator/dtq_operator").rglob("*.py"),
]
STORE = ROOT / "dtq" / "store"
ATTRIBUTES = {"redis", "scripts", "global_keys"}
# The few key names a module outside the store may import: the queue-name rule and its patterns.
KEYS_NAMES_ALLOWED = {"check_queue_name", "QUEUE_PATTERN", "SHARD_PATTERN", "QUEUE_NAME_RULE", "SHARD_SUFFIX_RULE"}
# The embedded server is made before any Store exists; it marks itself with the embedded key.
EXEMPT = {ROOT / "services/dev/__init__.py": {"GlobalKeys"}}


def reaches(path: Path) -> list[str]:
    """What `path` touches underneath the Store, as "line: what"."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ATTRIBUTES and not _is_settings(node.value):
            found.append(f"{node.lineno}: .{node.attr}")
        # a key builder takes a queue name; a mapping's .keys() takes nothing
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "keys"
            and node.args
        ):
            found.append(f"{node.lineno}: .keys(...)")
        if isinstance(node, ast.ImportFrom) and node.module == "dtq.store.scripts":
            found.append(f"{node.lineno}: from {node.module} import ...")
        if isinstance(node, ast.ImportFrom) and node.module == "dtq.store.connection":
            extra = {a.name for a in node.names} - {"ServerInfo"}  # a reply type, not a way in
            if extra:
                found.append(f"{node.lineno}: from dtq.store.connection import {', '.join(sorted(extra))}")
        if isinstance(node, ast.ImportFrom) and node.module == "dtq.keys":
            extra = {a.name for a in node.names} - KEYS_NAMES_ALLOWED - EXEMPT.get(path, set())
            if extra:
                found.append(f"{node.lineno}: from dtq.keys import {', '.join(sorted(extra))}")
    return sorted(found, key=lambda line: int(line.split(":")[0]))


def _is_settings(node: ast.expr) -> bool:
    """`settings.redis` is the Redis section of the settings, not a connection."""
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return name.endswith("settings")


def test_nothing_outside_the_store_reaches_underneath_it() -> None:
    outside = [p for p in LIBRARY if STORE not in p.parents]
    assert len(outside) > 20
    problems = {str(p.relative_to(ROOT)): found for p in outside if (found := reaches(p))}
    assert not problems


def test_the_check_sees_a_reach_through(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from dtq.keys import queue_keys\nasync def f(c):\n    await c.store.redis.get('x')\n    c.store.keys('q')\n"
    )
    assert reaches(sample) == ["1: from dtq.keys import queue_keys", "3: .redis", "4: .keys(...)"]
