"""HTTP/1.1 with the limits uvicorn's httptools protocol leaves out: header size and header time.

uvicorn's httptools protocol buffers a request line and headers of any size (a 50 MB header was
answered 200) and waits for them for ever (a client that sends half its headers and waits is
still served after 75 s; enough of them hold every connection slot). This protocol counts the
bytes of the request line and headers as the parser reports them and answers 431 past
`max_header_bytes`, and gives a client `header_timeout` seconds from connecting (or from the
first byte of a later request on a kept-alive connection) to finish them, answering 408 after.
Both answers close the connection. The body has its own limits (`limits.py`).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class GuardedHttpProtocol(HttpToolsProtocol):
    """httptools' protocol, with a bound on header bytes and on the time to receive them."""

    max_header_bytes: ClassVar[int] = 65_536
    header_timeout: ClassVar[float] = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0
        self._header_deadline: asyncio.TimerHandle | None = None
        self._reading_headers = False
        self._refused = False

    @classmethod
    def with_limits(cls, max_header_bytes: int, header_timeout: float) -> type[GuardedHttpProtocol]:
        """A protocol class with these limits (uvicorn builds one instance per connection)."""
        attributes = {"max_header_bytes": max_header_bytes, "header_timeout": header_timeout}
        return type("ConfiguredHttpProtocol", (cls,), attributes)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_clock()  # a client that connects and sends nothing is timed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._reading_headers = True
        self._start_header_clock()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        if not self._refused:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._stop_header_clock()
        if not self._refused:
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Between requests uvicorn's keep-alive timeout applies; the header clock starts again
        # with the next request's first byte (on_message_begin).

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.max_header_bytes and not self._refused:
            self._refuse(431, f"request line and headers exceed {self.max_header_bytes} bytes")

    def _start_header_clock(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_clock(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self._refused or self.transport.is_closing():
            return
        if self._reading_headers:
            self._refuse(408, f"request headers not received within {self.header_timeout:g} s")
        else:
            self.transport.close()  # connected and never began a request: nothing to answer

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with a JSON error and close, whatever the parser does next."""
        self._refused = True
        self._stop_header_clock()
        code = "header_timeout" if status == 408 else "headers_too_large"
        body = orjson.dumps({"error": {"code": code, "message": message, "details": []}})
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        if not self.transport.is_closing():
            self.transport.write(head % (status, REASONS[status], len(body)) + body)
            self.transport.close()
