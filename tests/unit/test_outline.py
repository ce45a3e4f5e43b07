"""The outline of a JSON body, read from its bytes, against the parsed document's true shape."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from services.api.outline import INT_MAX, INT_MIN, members_of, outline

scalars = st.none() | st.booleans() | st.integers(INT_MIN, INT_MAX) | st.floats(min_value=-9.2e18, max_value=1.8e19)
# Strings full of the characters the outline must skip over: quotes, escapes, brackets, commas.
texts = st.text(alphabet=st.sampled_from('ab"\\[]{},: \n\u2028é'), max_size=8)
documents = st.recursive(
    scalars | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=40,
)


def depth_of(node: Any) -> int:
    if isinstance(node, list):
        return 1 + max((depth_of(child) for child in node), default=0)
    if isinstance(node, dict):
        return 1 + max((depth_of(child) for child in node.values()), default=0)
    return 0


def members_in(node: Any) -> int:
    if isinstance(node, list):
        return sum(members_in(child) for child in node)
    if isinstance(node, dict):
        return len(node) + sum(members_in(child) for child in node.values())
    return 0


@given(documents, st.sampled_from([b"", b" ", b"\n  "]))
def test_the_outline_matches_the_parsed_document(document: Any, padding: bytes) -> None:
    raw = padding + orjson.dumps(document, option=orjson.OPT_INDENT_2) + padding
    shape = outline(raw, 64)
    assert shape.depth == depth_of(document)
    assert shape.members == members_in(document) == members_of(orjson.dumps(document))
    if isinstance(document, list):
        assert shape.items == max(1, len(document))  # an empty array counts as one: an upper bound
    assert shape.out_of_range is None


def test_depth_stops_counting_past_the_limit() -> None:
    assert outline(b"[" * 5000 + b"]" * 5000, 32).depth == 33
    assert outline(b"[" * 32 + b"]" * 32, 32).depth == 32


def test_millions_of_empty_objects_are_counted_without_parsing() -> None:
    raw = b"[" + b"{}," * 999_999 + b"{}]"
    assert outline(raw, 32).items == 1_000_000


def test_numbers_beyond_64_bits_are_found_and_others_are_not() -> None:
    assert outline(b'{"a": 18446744073709551616}', 32).out_of_range == b"18446744073709551616"
    assert outline(b"[-9223372036854775809]", 32).out_of_range == b"-9223372036854775809"
    assert outline(b"[1.5, 2e19]", 32).out_of_range == b"2e19"
    assert outline(b"[-1E+300]", 32).out_of_range == b"-1E+300"
    exact = b"[18446744073709551615, -9223372036854775808, 1.00000000000000000000001, 1.8e19, 1e-300, true]"
    assert outline(exact, 32).out_of_range is None
    assert outline(b'["18446744073709551616"]', 32).out_of_range is None  # inside a string: text


def test_duplicate_keys_show_as_fewer_members_after_parsing() -> None:
    raw = b'{"task": "a", "task": "b"}'
    assert outline(raw, 32).members == 2
    assert members_of(orjson.dumps(orjson.loads(raw))) == 1
