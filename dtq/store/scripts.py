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
from redis.asyncio import Redis

from dtq.store.calls import Call
from dtq.store.connection import redis_errors

LUA_DIR = Path(__file__).parent / "lua"
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
    """Runs the Lua scripts on one Redis client, reloading them whenever Redis forgot them."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._sources = {name: read_script(name) for name in script_names()}
        self._shas = {name: _sha1(src) for name, src in self._sources.items()}
        self._loaded = False

    async def load(self) -> None:
        """Load every script into Redis's script cache (again after a restart flushed it)."""
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

    async def run_many(self, calls: Sequence[Call[T]]) -> list[T]:
        """Run several calls in one round trip (not atomic together; each script still is)."""
        if not calls:
            return []
        if not self._loaded:
            await self.load()
        with redis_errors():
            try:
                replies = await self._pipeline(calls)
            except rex.NoScriptError:
                await self.load()
                replies = await self._pipeline(calls)
        return [call.parse(reply) for call, reply in zip(calls, replies, strict=True)]

    async def _pipeline(self, calls: Sequence[Call[Any]]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.evalsha(self._shas[call.script], len(call.keys), *call.keys, *call.args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def _evalsha(self, client: Redis, call: Call[Any]) -> Any:
        return await client.evalsha(self._shas[call.script], len(call.keys), *call.keys, *call.args)


def _sha1(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
