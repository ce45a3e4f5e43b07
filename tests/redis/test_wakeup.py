"""The notification listener: delivers messages, and stops on its flag without cancellation
(redis-py 8 can lose a cancellation that arrives during a pub/sub read)."""

from __future__ import annotations

import asyncio

from dtq.client import Client
from dtq.store.wakeup import READ_TIMEOUT, Listener


async def test_delivers_messages_and_stops_on_its_flag(client: Client) -> None:
    seen: list[tuple[str, str]] = []
    delivered = asyncio.Event()

    def on_message(channel: str, data: str) -> None:
        seen.append((channel, data))
        if data == "ready":
            delivered.set()

    channel = client.store.keys("q").worker_channel
    listener = Listener(client.store.redis, on_message, channels=[channel])
    running = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.subscribed.wait(), 5)
    await client.store.redis.publish(channel, "ready")
    await asyncio.wait_for(delivered.wait(), 5)
    assert (channel, "ready") in seen
    assert seen[0] == ("", "reconnected")  # a (re)subscription is reported as a wake-up
    listener.stop()  # no cancel: the flag alone ends run()
    await asyncio.wait_for(running, READ_TIMEOUT + 2)
