"""Task ids: UUIDv7 strings, sortable by creation time and unique without coordination."""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_ids(count: int) -> list[str]:
    """`count` fresh ids, strictly increasing within this process (RFC 9562 UUIDv7 layout).

    The 12-bit `rand_a` field counts ids made in the same millisecond, so a bulk enqueue keeps
    its input order when sorted; 62 random bits make ids unguessable across processes.
    """
    global _last_ms, _counter  # noqa: PLW0603 - per-process monotonic state, guarded by the lock
    randomness = os.urandom(8 * count)
    ids = []
    with _lock:
        for i in range(count):
            now = time.time_ns() // 1_000_000
            if now > _last_ms:
                _last_ms, _counter = now, 0
            else:
                _counter += 1
                if _counter > 0xFFF:  # more than 4096 ids this millisecond: borrow the next one
                    _last_ms, _counter = _last_ms + 1, 0
            rand_b = int.from_bytes(randomness[8 * i : 8 * i + 8], "big") & ((1 << 62) - 1)
            value = (_last_ms << 80) | (0x7 << 76) | (_counter << 64) | (0b10 << 62) | rand_b
            text = f"{value:032x}"
            ids.append(f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}")
    return ids


def new_id() -> str:
    """One fresh id."""
    return new_ids(1)[0]
