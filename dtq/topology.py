"""Where Redis is, read from `DTQ_REDIS_URL`: one server, a Redis Cluster, or a Sentinel-managed primary.

    redis://[user:password@]host[:port][/db]                       one server (rediss:// for TLS)
    redis+cluster://[user:password@]host[:port][,host[:port]...]   a Redis Cluster; any nodes as seeds
    redis+sentinel://[user:password@]host[:port][,...]/service[/db] the primary Sentinel names `service`

`rediss+cluster://` and `rediss+sentinel://` use TLS (for Sentinel: to the sentinels and to the
servers). Query options are redis-py's (`?ssl_ca_certs=/ca.pem&ssl_cert_reqs=required`);
`sentinel_username` and `sentinel_password` authenticate to the sentinels themselves, whose
credentials are usually not the servers'. The user and password in the URL are the servers'.

Parsing is pure (no I/O), so settings validation can use it and name the setting at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from redis.asyncio.connection import parse_url

Kind = Literal["server", "cluster", "sentinel"]

SCHEMES: dict[str, tuple[Kind, bool]] = {
    "redis": ("server", False),
    "rediss": ("server", True),
    "unix": ("server", False),
    "redis+cluster": ("cluster", False),
    "rediss+cluster": ("cluster", True),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
}
DEFAULT_PORT = {"server": 6379, "cluster": 6379, "sentinel": 26379}
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")


@dataclass(frozen=True, slots=True)
class Topology:
    """A parsed `DTQ_REDIS_URL`.

    `options` are the connection keywords redis-py reads from a URL (username, password, db,
    socket and TLS options); `sentinel_options` the credentials of the sentinels.
    """

    kind: Kind
    tls: bool
    hosts: tuple[tuple[str, int], ...]
    service: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    sentinel_options: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """Where this is, without credentials (for logs)."""
        nodes = ",".join(f"{host}:{port}" for host, port in self.hosts)
        tls = " over TLS" if self.tls else ""
        if self.kind == "cluster":
            return f"Redis Cluster seeded by {nodes}{tls}"
        if self.kind == "sentinel":
            return f"primary {self.service!r} of the sentinels {nodes}{tls}"
        return f"Redis at {nodes or 'a unix socket'}{tls}"


def parse(url: str) -> Topology:
    """Parse a dtq Redis URL; raises ValueError saying what is wrong (never echoing a password)."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in SCHEMES:
        shown = scheme if separator else "(none)"
        raise ValueError(
            f"unknown scheme {shown!r}: use redis://, rediss://, redis+cluster://, rediss+cluster://, "
            "redis+sentinel:// or rediss+sentinel://"
        )
    kind, tls = SCHEMES[scheme.lower()]
    if kind == "server":
        options = _redis_options(url)
        host, port = options.pop("host", None), options.pop("port", DEFAULT_PORT["server"])
        options.pop("connection_class", None)
        return Topology(kind, tls, ((host, int(port)),) if host else (), options=options)
    netloc, path, query = _split(rest)
    userinfo, _, hostlist = netloc.rpartition("@")
    hosts = tuple(_host(part, DEFAULT_PORT[kind]) for part in hostlist.split(",") if part.strip())
    if not hosts:
        raise ValueError(f"{scheme}:// needs at least one host:port")
    segments = [unquote(s) for s in path.split("/") if s]
    service = None
    if kind == "sentinel":
        if not segments:
            raise ValueError(
                "redis+sentinel:// needs the service name as its path: redis+sentinel://host:26379/mymaster"
            )
        service = segments.pop(0)
    if len(segments) > 1 or (segments and not segments[0].isdigit()):
        raise ValueError(f"unexpected path {path!r}: only a database number may follow")
    if kind == "cluster" and segments and int(segments[0]) != 0:
        raise ValueError("a Redis Cluster has only database 0")
    # Let redis-py read credentials and query options exactly as it does for one server.
    single = f"{'rediss' if tls else 'redis'}://{userinfo + '@' if userinfo else ''}{hostlist.split(',')[0]}"
    options = _redis_options(single + ("/" + segments[0] if segments else "") + ("?" + query if query else ""))
    for name in ("host", "port", "connection_class"):
        options.pop(name, None)
    if kind == "cluster":
        options.pop("db", None)
    sentinel = {name: options.pop(name) for name in SENTINEL_OPTIONS if name in options}
    return Topology(kind, tls, hosts, service, options, {k.removeprefix("sentinel_"): v for k, v in sentinel.items()})


def _redis_options(url: str) -> dict[str, Any]:
    try:
        return dict(parse_url(url))
    except ValueError as exc:
        raise ValueError(str(exc)) from None


def _split(rest: str) -> tuple[str, str, str]:
    """netloc, path, query of what follows `scheme://`."""
    head, _, query = rest.partition("?")
    netloc, slash, path = head.partition("/")
    return netloc, slash + path, query


def _host(part: str, default_port: int) -> tuple[str, int]:
    try:
        parsed = urlsplit("//" + part.strip())
        port = parsed.port
    except ValueError:
        raise ValueError(f"{part.strip()!r} is not host:port") from None
    if not parsed.hostname:
        raise ValueError(f"{part.strip()!r} is not host:port")
    return parsed.hostname, port or default_port
