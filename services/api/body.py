"""Reading JSON bodies: charset, outline, parse, then schema validation.

The body is read as JSON whatever `Content-Type` says, because the original API did so and its
documented curl lines send none (curl then says `application/x-www-form-urlencoded`); a body that
is not JSON is a 400 naming the parse error, and a declared charset other than UTF-8 is a 415
(JSON is UTF-8, and reading latin-1 text as UTF-8 would store something the sender did not send).
The size limit is enforced earlier, while the body streams in (see `limits.py`).

Before anything is parsed, the body's outline (see `outline.py`) is checked: nesting depth,
the number of bulk items, integers beyond 64 bits (which orjson would silently turn into
floats). After the parse, a document with fewer object members than the bytes hold had
duplicate keys (orjson keeps the last), which is refused rather than guessed at.

The CPU work of a large body runs in a thread: each step is one C call, and between steps the
event loop gets the interpreter back, so one big request does not stall every other one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import TypeAdapter, ValidationError

from services.api.errors import ApiError
from services.api.outline import INT_MAX, INT_MIN, members_of, outline

T = TypeVar("T")

#: Bodies up to this size are read on the event loop (a thread hop would cost more than the work).
INLINE_BYTES = 65_536
UTF_8 = frozenset({"utf-8", "utf8"})


@dataclass(frozen=True, slots=True)
class JsonLimits:
    """What a body may hold: nesting depth, and (bulk bodies) top-level items."""

    max_depth: int
    max_items: int | None = None


async def read_json(request: Request, limits: JsonLimits) -> Any:
    """The parsed JSON body, whatever its declared content type (as long as the charset is UTF-8):
    400 if malformed, 413 if it has too many items, 415 a charset other than UTF-8, 422 if too
    deep, with an integer beyond 64 bits, or with a duplicate key."""
    refuse_foreign_charset(request.headers.get("content-type"))
    raw = await request.body()
    if len(raw) <= INLINE_BYTES:
        return parse(raw, limits)
    return await asyncio.to_thread(parse, raw, limits)


def refuse_foreign_charset(content_type: str | None) -> None:
    """415 when `content_type` declares a charset other than UTF-8."""
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in UTF_8:
            raise ApiError(415, "unsupported_charset", f"JSON bodies are UTF-8; charset={charset} is not supported")


def parse(raw: bytes, limits: JsonLimits) -> Any:
    """`raw` parsed, after its outline passed `limits` (see `read_json` for the refusals)."""
    shape = outline(raw, limits.max_depth)
    if limits.max_items is not None and shape.items > limits.max_items:
        raise ApiError(413, "too_many_tasks", f"at most {limits.max_items} tasks per request (got {shape.items})")
    if shape.depth > limits.max_depth:
        raise ApiError(
            422,
            "too_deep",
            f"the body nests deeper than {limits.max_depth} levels",
            [{"message": "nesting too deep"}],
        )
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if shape.out_of_range is not None:
        number = shape.out_of_range.decode()
        shown = number if len(number) <= 40 else f"{number[:40]}..."
        raise ApiError(
            422,
            "number_out_of_range",
            f"numbers must be from {INT_MIN} to {INT_MAX}",
            [{"message": f"{shown} is out of range"}],
        )
    if shape.members and members_of(orjson.dumps(document)) != shape.members:
        raise ApiError(
            422, "duplicate_key", "an object in the body has the same key twice", [{"message": "duplicate key"}]
        )
    return document


def validate(adapter: TypeAdapter[T], document: Any) -> T:
    """`document` validated by `adapter`; 422 naming each bad field (and bulk index)."""
    try:
        return adapter.validate_python(document)
    except ValidationError as exc:
        raise ApiError(422, "invalid_task", "the request is not a valid task", describe(exc)) from None


def describe(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as {field, index, message} details."""
    details = []
    for error in exc.errors(include_url=False):
        location = list(error["loc"])
        index = location.pop(0) if location and isinstance(location[0], int) else None
        message = error["msg"].removeprefix("Value error, ")
        details.append({"field": ".".join(str(p) for p in location) or "body", "index": index, "message": message})
    return details
