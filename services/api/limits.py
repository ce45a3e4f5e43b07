"""Body size limits enforced while the body streams in: 413 before it is all buffered."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.errors import ApiError, error_response


class BodyTooLarge(Exception):
    """Raised inside `receive` once the body passed its limit."""


class BodySizeLimit:
    """ASGI middleware: bodies of `bulk_path` may be `bulk_limit` bytes, all others `limit`."""

    def __init__(self, app: ASGIApp, *, limit: int, bulk_limit: int, bulk_path: str) -> None:
        self.app = app
        self.limit = limit
        self.bulk_limit = bulk_limit
        self.bulk_path = bulk_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.bulk_limit if scope["path"].endswith(self.bulk_path) else self.limit
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        error = ApiError(
            413, "body_too_large", f"the body is larger than {limit} bytes", headers={"Connection": "close"}
        )
        await error_response(error)(scope, receive, send)
