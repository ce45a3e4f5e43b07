"""Open-loop HTTP load at a fixed rate: latency without coordinated omission (wrk2's idea).

    python -m bench.http_load URL RATE SECONDS CONNECTIONS BODY

POSTs ``BODY`` (JSON text) to ``URL`` ``RATE`` times a second for ``SECONDS`` over a pool of
``CONNECTIONS`` keep-alive connections, and prints one JSON line with the results.

Request ``i`` is *due* at start + i/RATE whether or not earlier requests have been answered;
its latency is measured from that due time, so a slow response delays nothing else unseen:
requests that had to wait for a free connection, or for the generator itself, count the wait.
(wrk is closed-loop: each connection sends its next request only after the last answer, so a
stall hides the requests that would have been sent meanwhile.) It runs in its own process so
it does not share the server's interpreter, and needs only the standard library.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.stats import percentile

# Socket or protocol failures tolerated before the run is given up (each one is counted).
MAX_RECONNECTS = 100


@dataclass
class Results:
    """What the connections observed; times in seconds."""

    latency: list[float] = field(default_factory=list)
    """Due time to complete response."""
    http_errors: int = 0
    socket_errors: int = 0


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    request: bytes

    @classmethod
    def of(cls, url: str, body: bytes) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise SystemExit(f"need an http:// URL, got {url!r}")
        port = parts.port or 80
        head = (
            f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.hostname}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return cls(parts.hostname, port, head.encode() + body)

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one response with a Content-Length body; returns its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise ValueError("response without Content-Length")
    await reader.readexactly(length)
    return status


async def _connection(
    target: Target,
    stream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    due: asyncio.Queue[float | None],
    out: Results,
) -> None:
    """Send each due request taken from ``due`` over one connection, one at a time."""
    reader, writer = stream
    try:
        while (due_at := await due.get()) is not None:
            try:
                writer.write(target.request)
                status = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                out.socket_errors += 1
                if out.socket_errors > MAX_RECONNECTS:
                    raise
                writer.close()
                reader, writer = await target.connect()
                continue
            out.latency.append(time.perf_counter() - due_at)
            out.http_errors += status >= 400
    finally:
        writer.close()


async def run(target: Target, rate: float, seconds: float, connections: int) -> dict[str, float]:
    count = int(rate * seconds)
    out = Results()
    # Connect first, so that connection set-up is not inside the first requests' latency.
    streams = [await target.connect() for _ in range(connections)]
    due: asyncio.Queue[float | None] = asyncio.Queue()
    workers = [asyncio.create_task(_connection(target, s, due, out)) for s in streams]
    lag: list[float] = []
    started = time.perf_counter()
    for i in range(count):
        due_at = started + i / rate
        delay = due_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag.append(time.perf_counter() - due_at)
        due.put_nowait(due_at)
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - started
    if not out.latency:
        raise SystemExit("no request completed")
    return {
        "n": len(out.latency),
        "seconds": elapsed,
        "http_errors": out.http_errors,
        "socket_errors": out.socket_errors,
        "p50_ms": percentile(out.latency, 50) * 1000.0,
        "p99_ms": percentile(out.latency, 99) * 1000.0,
        "max_ms": max(out.latency) * 1000.0,
        "lag_p99_ms": percentile(lag, 99) * 1000.0,
    }


def main() -> None:
    url, rate, seconds, connections, body = sys.argv[1:6]
    target = Target.of(url, body.encode())
    result = asyncio.run(run(target, float(rate), float(seconds), int(connections)))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
