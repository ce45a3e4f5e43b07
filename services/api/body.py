"""Reading JSON bodies: parsing, nesting depth, then schema validation.

The body is read as JSON whatever `Content-Type` says, because the original API did so and its
documented curl lines send none (curl then says `application/x-www-form-urlencoded`); a body that
is not JSON is a 400 naming the parse error. The size limit is enforced earlier, while the body
streams in (see `limits.py`). Parsing is orjson; a body nested deeper than the limit is refused
before any model sees it, so a deep document can neither exhaust the stack nor reach a handler.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import TypeAdapter, ValidationError

from services.api.errors import ApiError

T = TypeVar("T")


async def read_json(request: Request, max_depth: int) -> Any:
    """The parsed JSON body, whatever its declared content type; 400 if malformed, 422 if too deep."""
    raw = await request.body()
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    depth = nesting_depth(document, max_depth)
    if depth > max_depth:
        raise ApiError(
            422, "too_deep", f"the body nests deeper than {max_depth} levels", [{"message": "nesting too deep"}]
        )
    return document


def nesting_depth(document: Any, limit: int) -> int:
    """How deep arrays and objects nest (stops counting once past `limit`)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


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
