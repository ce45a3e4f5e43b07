"""The one error shape, and the single place dtq errors become HTTP status codes."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute, APIRouter
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from dtq.errors import (
    BulkTakenBack,
    DtqError,
    InvalidQueueName,
    InvalidTask,
    RedisUnavailable,
    TaskFinished,
    TaskNotFound,
    TooManyQueues,
)
from services.api.schemas import ErrorOut

log = logging.getLogger("dtq.api")

RETRY_AFTER_SECONDS = "1"


class ApiError(Exception):
    """An HTTP error with the API's error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}


def error_response(error: ApiError) -> Response:
    """The JSON response for `error`."""
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    return Response(orjson.dumps(body), error.status, error.headers, media_type="application/json")


#: dtq errors whose answer is their message under a fixed status and code.
PLAIN = {TaskNotFound: (404, "not_found"), TaskFinished: (409, "already_finished")}


def from_dtq(exc: DtqError) -> ApiError:
    """Map a dtq error to its status code."""
    if isinstance(exc, InvalidTask):
        details = [{"field": p.field, "index": p.index, "message": p.message} for p in exc.problems]
        return ApiError(422, "invalid_task", "the request is not a valid task", details)
    if isinstance(exc, InvalidQueueName):
        return ApiError(422, "invalid_queue", str(exc), [{"field": "queue", "message": str(exc)}])
    if isinstance(exc, TooManyQueues):
        details = [{"field": "queue", "message": f"{name}: no more queues may be created"} for name in exc.refused]
        return ApiError(429, "too_many_queues", str(exc), details[:100])
    if isinstance(exc, RedisUnavailable):
        code = "redis_out_of_memory" if exc.out_of_memory else "redis_unavailable"
        left = exc.left if isinstance(exc, BulkTakenBack) else []
        details = [{"field": "id", "message": f"{task_id} was claimed by a worker and runs"} for task_id in left]
        return ApiError(503, code, str(exc), details[:100], headers={"Retry-After": RETRY_AFTER_SECONDS})
    status, code = next((answer for kind, answer in PLAIN.items() if isinstance(exc, kind)), (400, "bad_request"))
    return ApiError(status, code, str(exc))


def answer(request: Request, exc: ApiError | DtqError) -> Response:
    """The response to an ApiError or dtq error a route raised (a 503 is logged)."""
    if isinstance(exc, ApiError):
        return error_response(exc)
    mapped = from_dtq(exc)
    if mapped.status == 503:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
    return error_response(mapped)


def install(app: FastAPI, methods: MethodTable) -> None:
    """Route every failure through the one error shape."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return answer(request, exc)

    @app.exception_handler(DtqError)
    async def dtq_error(request: Request, exc: DtqError) -> Response:
        return answer(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return error_response(ApiError(422, "invalid_request", "the request is not valid", details))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = methods.allowed(request.url.path)
        return error_response(ApiError(exc.status_code, code, str(exc.detail), headers=headers))

    app.add_exception_handler(Exception, unexpected)


async def unexpected(request: Request, _exc: Exception) -> Response:
    """The 500 answer to an exception nothing else handled (logged with its traceback)."""
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return error_response(ApiError(500, "internal_error", "unexpected server error; see the API log"))


class MethodTable:
    """Which methods each path serves, for the Allow header of a 405 (one path may be served
    by several routes, e.g. GET and DELETE /dead)."""

    def __init__(self, routers: Iterable[APIRouter]) -> None:
        self._paths: list[tuple[re.Pattern[str], set[str]]] = []
        for router in routers:
            for route in router.routes:
                if isinstance(route, APIRoute):
                    pattern, _, _ = compile_path(route.path)  # the path includes the router's prefix
                    self._paths.append((pattern, set(route.methods or ()) - {"HEAD"}))

    def allowed(self, path: str) -> str:
        """The methods served at `path`, as an Allow header value."""
        methods = set().union(*(m for pattern, m in self._paths if pattern.match(path)))
        return ", ".join(sorted(methods))


DESCRIPTIONS = {
    400: "Malformed JSON",
    401: "Missing or unknown bearer token",
    403: "The token's role may not do this",
    404: "Not found",
    409: "Conflicts with the task's state",
    413: "Body too large (or too many tasks)",
    415: "A charset other than UTF-8",
    422: "Invalid fields (each named in details)",
    429: "Rate limit exceeded (see Retry-After)",
    503: "Redis unavailable or out of memory (see Retry-After)",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error codes an operation can answer."""
    return {code: {"model": ErrorOut, "description": DESCRIPTIONS[code]} for code in codes}
