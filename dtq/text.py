"""Text from outside, made safe to show on a terminal or in a log line.

Task names, payloads and error messages come from producers and handlers. Shown as they are,
their control characters reach the terminal (ESC starts a sequence that can clear the screen or
set the window title) and their line breaks forge lines in a text log. NEL (U+0085) and the
LINE and PARAGRAPH SEPARATORs (U+2028, U+2029) break lines too in many viewers.
"""

from __future__ import annotations

import re

# C0, DEL, C1 (NEL included) and the two Unicode separators, as a regex character class body:
# Python's re, JSON Schema (ECMA-262) and the Rust regex crate pydantic uses all read it.
UNSAFE_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
UNSAFE = re.compile(f"[{UNSAFE_CHARACTERS}]")
JSON_LAYOUT = "\t\n\r"  # the whitespace a JSON encoder lays tokens out with


def visible(text: str) -> str:
    """`text` with each unsafe character replaced by a visible escape: `\\n`, `\\x1b`, `\\u2028`."""
    return UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    code = ord(character)
    if character in NAMED:
        return NAMED[character]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}  # as a reader of logs expects them


def visible_in_json(document: str) -> str:
    """An encoder's JSON text with each unsafe character in a string as a JSON escape (`\\u0085`):
    the same document for a parser, safe on a terminal. Encoders escape C0 in strings already,
    but not DEL, C1 or U+2028; a raw tab, newline or return is the layout between tokens."""
    return UNSAFE.sub(_json_escape, document)


def _json_escape(match: re.Match[str]) -> str:
    character = match.group()
    return character if character in JSON_LAYOUT else f"\\u{ord(character):04x}"
