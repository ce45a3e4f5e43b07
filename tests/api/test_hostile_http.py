"""What one client can make a real `dtq api` process spend: header bytes, header time,
connection slots, and the memory and time of one huge bulk body (issue 13, items 1 and 2).

These run the real uvicorn server (the ASGI transport of the other API tests has no sockets,
headers or connection limits) against the session's Redis.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import orjson

from tests.support.api_process import ApiProcess, running_api
from tests.support.redis_server import RedisServer

MIB = 1024 * 1024


def connect(api: ApiProcess) -> socket.socket:
    return socket.create_connection((api.host, api.port), timeout=15)


def answer_of(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := connection.recv(65_536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_headers_beyond_the_limit_are_refused_with_431(redis_server: RedisServer, prefix: str, tmp_path: Path) -> None:
    with running_api(redis_server.url, prefix, tmp_path) as api, connect(api) as connection:
        huge = b"x" * (200 * 1024)  # the default limit is 64 KiB
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: dtq\r\nX-Padding: " + huge + b"\r\n\r\n")
        answer = answer_of(connection)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert b'"code":"headers_too_large"' in answer
        assert httpx.get(f"{api.base}/healthz").status_code == 200  # the server itself is fine


def test_a_client_that_stops_sending_its_headers_gets_408_and_is_closed(
    redis_server: RedisServer, prefix: str, tmp_path: Path
) -> None:
    with running_api(redis_server.url, prefix, tmp_path, api_header_timeout="1") as api, connect(api) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: dtq\r\nX-Half: ")  # ...and never the rest
        started = time.monotonic()
        answer = answer_of(connection)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert time.monotonic() - started < 10  # the socket timeout is 15 s: the server closed it


def test_idle_connections_cannot_hold_every_slot(redis_server: RedisServer, prefix: str, tmp_path: Path) -> None:
    settings = {"api_max_connections": "4", "api_header_timeout": "1"}
    with running_api(redis_server.url, prefix, tmp_path, **settings) as api:
        idle = [connect(api) for _ in range(4)]  # connected, never a byte sent
        try:
            with httpx.Client(base_url=api.base) as http:
                assert http.get("/healthz").status_code == 503  # the cap is the setting
                for connection in idle:
                    assert answer_of(connection) == b""  # the server hangs up on each of them
                assert http.get("/healthz").status_code == 200
        finally:
            for connection in idle:
                connection.close()


def test_a_bulk_body_of_millions_of_empty_objects_is_refused_before_it_is_parsed(
    redis_server: RedisServer, prefix: str, tmp_path: Path
) -> None:
    """The attack run's body: 16 MiB of `[{},{},...]`, 5.6 million items, sent to an API whose bulk
    limit was raised to 16 MiB (at the default it is refused from its Content-Length alone). It
    took the API to ~890 MB and froze it for 8 s; /healthz must keep answering meanwhile."""
    body = b"[" + b"{}," * (16 * MIB // 3 - 1) + b"{}]"
    with running_api(redis_server.url, prefix, tmp_path, api_max_bulk_body_bytes=str(16 * MIB)) as api:
        with httpx.Client(base_url=api.base) as http:
            http.get("/healthz")
        peak_before = api.peak_rss()
        answered: list[httpx.Response] = []
        sender = threading.Thread(
            target=lambda: answered.append(httpx.post(f"{api.base}/tasks/bulk", content=body, timeout=60))
        )
        slowest_health = 0.0
        with httpx.Client(base_url=api.base, timeout=30) as http:
            sender.start()
            while sender.is_alive():
                started = time.monotonic()
                assert http.get("/healthz").status_code == 200
                slowest_health = max(slowest_health, time.monotonic() - started)
            sender.join()
        (response,) = answered
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "too_many_tasks"
        growth = api.peak_rss() - peak_before
        assert growth < 200 * MIB, f"peak RSS grew by {growth / MIB:.0f} MiB"
        assert slowest_health < 3, f"/healthz took {slowest_health:.2f} s during the request"


def test_the_default_bulk_limit_fits_ten_thousand_ordinary_tasks(
    redis_server: RedisServer, prefix: str, tmp_path: Path
) -> None:
    payload = {"to": "someone@example.com", "template": "welcome", "vars": {"name": "x" * 250}}
    items = [{"task": "send-email", "queue": "mail", "payload": payload} for _ in range(10_000)]
    body = orjson.dumps(items)
    assert len(body) > 3 * MIB  # ~400 bytes a task, as the setting's description says
    with running_api(redis_server.url, prefix, tmp_path) as api:
        response = httpx.post(f"{api.base}/tasks/bulk", content=body, timeout=60)
        assert response.status_code == 200, response.text
        assert len(response.json()["ids"]) == 10_000
        too_big = httpx.post(f"{api.base}/tasks/bulk", content=b"[" + b"{}," * (6 * MIB // 3) + b"{}]")
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "body_too_large"
