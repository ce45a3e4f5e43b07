"""The shape of a JSON body, read from its bytes before any parser builds objects from it.

Parsing first and measuring after let one 16 MiB bulk body of `[{},{},...]` (5.6 million empty
objects) cost the API ~890 MB and 8 s before it was refused for having too many items. Here the
body's structure is measured with byte operations that run in C (a regex drops strings, a
translate keeps only brackets and commas, then each pass removes the innermost groups), so
nesting depth, the top-level item count and the number of object members are known, and the
refusals made, while the body is still one `bytes` object. Only a body that passes is parsed.

A body that is not well-formed JSON may get a meaningless outline; that is fine, because the
parser then refuses it with its own message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A JSON string: quote, then runs of plain characters and escapes (unrolled, so it runs in linear
# time without backtracking), then quote.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_STRUCTURE = b"[],"
_OPENERS_AND_CLOSERS = bytes.maketrans(b"{}", b"[]")  # depth does not care which kind of group
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(_STRUCTURE) - set(b"{}")))
_EMPTY_GROUP = b"[]"
_OPEN = b"["
_GROUP_WITH_COMMAS = re.compile(rb"\[,+\]")
_CHILDLESS_GROUP = re.compile(rb"\[,*\]")
# A number literal that may lie outside 64 bits: 19 digits or more, or an exponent. Matched only
# when a cheap scan (digits mapped to "0", e and E to "e", everything else to a space) finds one.
_NUMBER = re.compile(rb"(?<![\d.eE+\-])-?\d+(?:\.\d+)?(?:[eE][+\-]?\d+)?(?![\d.eE])")
_DIGITS_AND_EXPONENTS = bytes.maketrans(
    bytes(range(256)), bytes(48 if 48 <= b <= 57 else 101 if b in b"eE" else 32 for b in range(256))
)
_LONG_DIGIT_RUN = b"0" * 19
_EXPONENT = b"0e"
INT_MIN = -(2**63)
# orjson reads integers up to INT_MAX exactly and silently makes floats of larger ones; a number
# is kept only within the range every integer in it can be read exactly (floats included, so the
# API's JSON schema can say it as a plain minimum and maximum).
INT_MAX = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Outline:
    """What the bytes of a body say about its structure."""

    depth: int  #: how deep groups nest; `limit + 1` means "deeper than the limit"
    items: int  #: at most this many top-level items, when the body is an array (else 0)
    members: int  #: object members (`"key": value` pairs) in the whole body
    out_of_range: bytes | None  #: the first number literal outside INT_MIN..INT_MAX, if any


def outline(raw: bytes, depth_limit: int) -> Outline:
    """The outline of `raw`; stops measuring depth once it passes `depth_limit`."""
    stripped = _STRING.sub(b"", raw)
    members = stripped.count(b":")
    skeleton = stripped.translate(_OPENERS_AND_CLOSERS, _NOT_STRUCTURE)
    is_array = raw.lstrip()[:1] == b"["
    depth = items = 0
    while _OPEN in skeleton:
        if depth > depth_limit:
            break
        # One pass removes every group that holds no other group: exactly one level of nesting.
        # Groups with commas need the regex; empty ones (the cheap case an attacker reaches for,
        # millions of `{}`) go by bytes.replace, which does not build a match object per group.
        if _GROUP_WITH_COMMAS.search(skeleton) is None:
            reduced = skeleton.replace(_EMPTY_GROUP, b"")
        else:
            reduced = _CHILDLESS_GROUP.sub(b"", skeleton)
        if reduced == skeleton:
            break  # unbalanced: not JSON, the parser will say so
        if _OPEN not in reduced:
            items = skeleton.count(b",") + 1 if is_array else 0  # what is left is the top-level group
        skeleton = reduced
        depth += 1
    out_of_range = None
    scanned = stripped.translate(_DIGITS_AND_EXPONENTS)
    if _LONG_DIGIT_RUN in scanned or _EXPONENT in scanned:  # the regex alone is slow on big bodies
        out_of_range = next((m.group() for m in _NUMBER.finditer(stripped) if not _fits(m.group())), None)
    return Outline(depth=depth, items=items, members=members, out_of_range=out_of_range)


def members_of(encoded: bytes) -> int:
    """Object members in a JSON document as orjson encodes it (to compare with `Outline.members`:
    fewer after a parse means duplicate keys, which orjson merges, last one winning)."""
    return _STRING.sub(b"", encoded).count(b":")


def _fits(literal: bytes) -> bool:
    if literal.lstrip(b"-").isdigit():
        return INT_MIN <= int(literal) <= INT_MAX
    return INT_MIN <= float(literal) <= INT_MAX  # inf (1e999) does not fit either
