"""A small TCP proxy between dtq's processes and Redis, with faults the test switches on and off.

Neither toxiproxy nor `tc netem` exists on these machines, so the network faults are made here.
The proxy runs its own event loop in a thread, so a busy test loop cannot delay its traffic.
Every connection is two pumps (client -> server, server -> client); each pump reads chunks and
hands them to a writer through a queue, which is where delay and holding happen.

Faults:
- `latency(mean, jitter)`: each client -> server chunk waits mean +/- jitter seconds (order is
  kept, so the delay adds to every round trip);
- `blackhole()`: nothing moves in either direction and new connections hang; held bytes are
  delivered, in order, when `heal()` is called, as a partition's retransmits would be (a client
  that gave up meanwhile has closed its socket, and its close is delivered after its bytes);
- `reset_all()`: every open connection is closed with RST on both sides;
- `drop_replies()`: commands reach Redis but a connection that loses a reply loses every later
  one too (a byte stream cannot skip a reply), so it is reset when the fault is healed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
CHUNK = 65536
EOF = b""


@dataclass(eq=False)
class Link:
    """One proxied connection."""

    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    deaf: bool = False  # lost a reply: every later reply is lost too
    closed: int = 0  # writers that have finished

    def abort(self) -> None:
        for writer in (self.client, self.server):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        for task in self.tasks:
            task.cancel()


@dataclass
class Counters:
    """What the proxy did, for the verdict."""

    connections: int = 0
    resets: int = 0
    replies_dropped: int = 0
    chunks_delayed: int = 0


class Proxy:
    """Listens on a free loopback port and forwards to `upstream_port`."""

    def __init__(self, upstream_port: int, *, seed: int = 0) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.counters = Counters()
        self._random = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chaos-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._links: set[Link] = set()
        self._flowing: asyncio.Event | None = None
        self._latency = (0.0, 0.0)
        self._dropping = False

    # --- control (called from the test's thread) ---------------------------------------------

    def start(self) -> Proxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def latency(self, mean: float, jitter: float = 0.0) -> None:
        self._call(self._set(latency=(mean, jitter)))

    def blackhole(self) -> None:
        self._call(self._set(flowing=False))

    def drop_replies(self) -> None:
        self._call(self._set(dropping=True))

    def heal(self) -> None:
        """End every fault; connections that lost replies are reset."""
        self._call(self._heal())

    def reset_all(self) -> int:
        """RST every open connection; returns how many."""
        return self._call(self._reset(lambda _link: True))

    @property
    def open_links(self) -> int:
        return len(self._links)

    # --- the proxy's own loop ----------------------------------------------------------------

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._reset(lambda _link: True)

    async def _set(
        self, *, latency: tuple[float, float] | None = None, flowing: bool | None = None, dropping: bool | None = None
    ) -> None:
        assert self._flowing is not None
        if latency is not None:
            self._latency = latency
        if flowing is False:
            self._flowing.clear()
        if dropping is not None:
            self._dropping = dropping

    async def _heal(self) -> None:
        assert self._flowing is not None
        self._latency = (0.0, 0.0)
        self._dropping = False
        self._flowing.set()
        await self._reset(lambda link: link.deaf)

    async def _reset(self, which: Any) -> int:
        doomed = [link for link in self._links if which(link)]
        for link in doomed:
            link.abort()
            self._links.discard(link)
        self.counters.resets += len(doomed)
        return len(doomed)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        await self._flowing.wait()  # a partition: the connection hangs until healed
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.transport.abort()  # Redis is down: refuse, as the real port would
            return
        link = Link(client_writer, server_writer)
        self._links.add(link)
        self.counters.connections += 1
        upstream: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        downstream: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        link.tasks = [
            asyncio.create_task(self._read(client_reader, upstream, delayed=True)),
            asyncio.create_task(self._write(upstream, server_writer, link)),
            asyncio.create_task(self._read_replies(server_reader, downstream, link)),
            asyncio.create_task(self._write(downstream, client_writer, link)),
        ]

    async def _read(
        self, reader: asyncio.StreamReader, out: asyncio.Queue[tuple[float, bytes]], *, delayed: bool
    ) -> None:
        last = 0.0
        while True:
            try:
                data = await reader.read(CHUNK)
            except (ConnectionError, OSError):
                data = EOF
            at = time.monotonic()
            mean, jitter = self._latency
            if delayed and mean > 0 and data:
                self.counters.chunks_delayed += 1
                at += max(0.0, self._random.uniform(mean - jitter, mean + jitter))
            last = max(last, at)  # never reorder a stream
            out.put_nowait((last, data))
            if not data:
                return

    async def _read_replies(
        self, reader: asyncio.StreamReader, out: asyncio.Queue[tuple[float, bytes]], link: Link
    ) -> None:
        while True:
            try:
                data = await reader.read(CHUNK)
            except (ConnectionError, OSError):
                data = EOF
            if data and (self._dropping or link.deaf):
                link.deaf = True
                self.counters.replies_dropped += 1
                continue
            out.put_nowait((time.monotonic(), data))
            if not data:
                return

    async def _write(self, queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter, link: Link) -> None:
        """Deliver what `queue` holds, when it is due and the network flows; close after EOF."""
        assert self._flowing is not None
        try:
            while True:
                at, data = await queue.get()
                await self._flowing.wait()
                pause = at - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                    await self._flowing.wait()
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # Closing one side's socket ends the other pump too: its reader sees EOF or an error.
            with contextlib.suppress(ConnectionError, OSError):
                writer.close()
            link.closed += 1
            if link.closed == 2:
                self._links.discard(link)
