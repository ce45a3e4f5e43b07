"""Loading the Lua scripts and running them: the only place dtq calls EVALSHA.

Each `lua/<transition>.lua` file is one atomic state change. A line `-- @include <name>` is
replaced by `lua/include/<name>.lua` when the file is read, so shared helpers (the Redis clock,
the ready-set score, chunked commands) exist once. The scripts declare flags in a `#!lua`
shebang; a server that does not understand it (the embedded fakeredis) gets the scripts
without that line, and without the flags, which only matter under memory pressure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import redis.exceptions as rex
from redis.asyncio import RedisCluster

from dtq.errors import NotReplicated, RedisUnavailable
from dtq.store.calls import Call
from dtq.store.connection import RedisClient, redis_errors

LUA_DIR = Path(__file__).parent / "lua"
# Per-call replies worth one more try: the script cache was lost, or the call's cluster node failed.
RESENDABLE = (rex.NoScriptError, rex.ConnectionError, rex.TimeoutError, rex.ClusterDownError, rex.SlotNotCoveredError)
INCLUDE = re.compile(r"^-- @include (\w+)$", re.MULTILINE)

T = TypeVar("T")


def read_script(name: str) -> str:
    """The source of `lua/<name>.lua` with its includes inlined."""
    source = (LUA_DIR / f"{name}.lua").read_text()
    return INCLUDE.sub(lambda m: (LUA_DIR / "include" / f"{m.group(1)}.lua").read_text().rstrip("\n"), source)


def script_names() -> list[str]:
    """Every script (one per state transition or read)."""
    return sorted(path.stem for path in LUA_DIR.glob("*.lua"))


def without_shebang(source: str) -> str:
    """The script minus its `#!lua` line, for servers that do not know script flags."""
    return source.split("\n", 1)[1] if source.startswith("#!") else source


class Scripts:
    """Runs the Lua scripts on one Redis client, reloading them whenever Redis forgot them.

    Redis forgets its script cache on a restart, and a replica promoted by a failover never had
    it (SCRIPT LOAD is not replicated): the calls that met NOSCRIPT are run again after a reload.
    `wait_replicas` > 0 makes `run_many(..., durable=True)` follow the calls with `WAIT` on the
    connection that sent them, and fail with `NotReplicated` if too few replicas acknowledge.
    """

    def __init__(self, redis: RedisClient, *, wait_replicas: int = 0, wait_timeout: float = 1.0) -> None:
        self.redis = redis
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = round(wait_timeout * 1000)
        self._sources = {name: read_script(name) for name in script_names()}
        self._shas = {name: _sha1(src) for name, src in self._sources.items()}
        self._loaded = False

    async def load(self) -> None:
        """Load every script into Redis's script cache (on a cluster: on every primary)."""
        with redis_errors():
            if not self._loaded and not await self._understands_flags():
                self._drop_shebangs()
            for source in self._sources.values():
                await self.redis.script_load(source)
        self._loaded = True

    async def _understands_flags(self) -> bool:
        # Some servers accept a shebang at SCRIPT LOAD and fail only when running it.
        try:
            await self.redis.eval("#!lua flags=no-writes\nreturn 1", 0)
        except rex.ResponseError as exc:
            if "near '#'" in str(exc):
                return False
            raise
        return True

    def loaded(self, name: str) -> tuple[str, str] | None:
        """The SHA and source of script `name` as this server runs it, once `load()` ran."""
        return (self._shas[name], self._sources[name]) if self._loaded else None

    def _drop_shebangs(self) -> None:
        self._sources = {name: without_shebang(src) for name, src in self._sources.items()}
        self._shas = {name: _sha1(src) for name, src in self._sources.items()}

    async def run(self, call: Call[T]) -> T:
        """Run one script call and parse its reply."""
        if not self._loaded:
            await self.load()
        with redis_errors():
            try:
                reply = await self._evalsha(self.redis, call)
            except rex.NoScriptError:
                await self.load()
                reply = await self._evalsha(self.redis, call)
        return call.parse(reply)

    async def run_many(self, calls: Sequence[Call[T]], *, durable: bool = False) -> list[T]:
        """Run several calls in one round trip (not atomic together; each script still is).

        On a cluster the round trip is one per node, sent concurrently. `durable` asks for the
        replica acknowledgement `wait_replicas` configures. The first failed call raises.
        """
        outcomes = await self.run_each(calls, durable=durable)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        return outcomes  # type: ignore[return-value]

    async def run_each(self, calls: Sequence[Call[T]], *, durable: bool = False) -> list[T | Exception]:
        """`run_many`, but every call's own outcome: its parsed reply, or the error it met (as
        a dtq error), so a caller can undo the calls that did succeed."""
        if not calls:
            return []
        wait = self.wait_replicas if durable else 0
        if len(calls) == 1 and not wait:
            # A lone call skips the pipeline machinery: about a quarter less client CPU per call,
            # which is most of the API's Redis cost at low concurrency.
            try:
                return [await self.run(calls[0])]
            except Exception as exc:
                return [exc]
        if not self._loaded:
            await self.load()
        with redis_errors():
            replies = await self._pipeline(calls, wait, raise_on_error=False)
            failed = [i for i, reply in enumerate(replies) if isinstance(reply, RESENDABLE)]
            if failed:
                for i, reply in zip(failed, await self._resend([calls[i] for i in failed], wait), strict=True):
                    replies[i] = reply
        return [_parsed(call, reply) for call, reply in zip(calls, replies, strict=True)]

    async def _resend(self, calls: Sequence[Call[Any]], wait: int) -> list[Any]:
        """Calls whose reply was NOSCRIPT, or (on a cluster) a lost connection to their node.

        A cluster pipeline asked for per-call replies does not retry a failed node itself, so
        these go again in a pipeline that raises on error, which redis-py retries after
        refreshing its view of the cluster. Every script is idempotent, so resending is safe.
        """
        for attempt in range(2):
            try:
                return await self._pipeline(calls, wait, raise_on_error=True)
            except rex.NoScriptError:
                if attempt:
                    raise
                await self.load()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _pipeline(self, calls: Sequence[Call[Any]], wait: int, *, raise_on_error: bool) -> list[Any]:
        """Replies (or the exceptions) of `calls`, then WAIT on each connection used if `wait`."""
        waits = self._wait_targets(calls) if wait else []
        async with self.redis.pipeline(transaction=False) as pipe:
            for call in calls:
                # execute_command: redis-py refuses `pipe.evalsha` in cluster mode, though it
                # routes EVALSHA by its keys like any keyed command.
                pipe.execute_command("EVALSHA", self._shas[call.script], len(call.keys), *call.keys, *call.args)
            for target in waits:
                pipe.execute_command("WAIT", wait, self.wait_timeout_ms, **target)
            replies: list[Any] = await pipe.execute(raise_on_error=raise_on_error)
        replies, acked = replies[: len(calls)], replies[len(calls) :]
        for reply in acked:
            if isinstance(reply, Exception):
                raise reply
        if any(n < wait for n in acked) and not any(isinstance(r, Exception) for r in replies):
            raise NotReplicated(wait, acked, self.wait_timeout_ms)
        return replies

    def _wait_targets(self, calls: Sequence[Call[Any]]) -> list[dict[str, Any]]:
        """Routing of one WAIT per connection the calls go out on (one, unless on a cluster)."""
        if not isinstance(self.redis, RedisCluster):
            return [{}]
        nodes = {}
        for call in calls:
            node = self.redis.get_node_from_key(call.keys[0])
            if node is None:
                raise RedisUnavailable(f"no cluster node serves {call.keys[0]} yet")
            nodes[node.name] = node
        return [{"target_nodes": node} for node in nodes.values()]

    async def _evalsha(self, client: RedisClient, call: Call[Any]) -> Any:
        return await client.evalsha(self._shas[call.script], len(call.keys), *call.keys, *call.args)


def _parsed(call: Call[T], reply: Any) -> T | Exception:
    if isinstance(reply, Exception):
        try:
            with redis_errors():
                raise reply
        except Exception as mapped:
            return mapped
    return call.parse(reply)


def _sha1(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
