"""The scheduler: promotes due tasks, recovers expired leases, and enforces retention.

Every sweep is a set of atomic scripts, one per queue, pipelined in one round trip. Because each
script moves a task at most once, any number of schedulers may run side by side: none holds a
lock, so none can leave the others waiting on a lock it took to its grave.

Between sweeps it sleeps until the earliest due task or lease expiry (computed on Redis's
clock, so a skewed host clock changes nothing), at most `poll_interval`, and wakes early when a
producer schedules something sooner.
"""

from __future__ import annotations

import asyncio
import logging
import time
from enum import StrEnum
from pathlib import Path

from dtq import heartbeat
from dtq.errors import RedisUnavailable
from dtq.settings import Settings
from dtq.store import calls
from dtq.store.calls import Promotion
from dtq.store.store import Store
from dtq.store.wakeup import Listener
from dtq.upkeep import connect_patiently, every, sleep_unless, stop_tasks

log = logging.getLogger("dtq.scheduler")

RECONNECT_DELAY = 1.0
MAX_CATCH_UP_ROUNDS = 20  # full batches in a row before sleeping; bounds one sweep's Redis time


class SchedulerState(StrEnum):
    """Where a scheduler is in its life."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"


class Scheduler:
    """Keeps time for every queue: due tasks become ready, lost leases come back."""

    def __init__(self, settings: Settings, *, store: Store | None = None) -> None:
        self.settings = settings
        self._owns_store = store is None
        self.store = store if store is not None else Store(settings.redis)
        self.state = SchedulerState.STARTING
        self.promoted = 0
        self.recovered = 0
        self._queues: list[str] = []
        self._queues_read_at = float("-inf")
        self._janitor_at = float("-inf")
        self._empty_since: dict[str, float] = {}  # queue -> when this scheduler first saw it empty
        self._upgraded: set[str] = set()  # queues this process found in the current layout
        self._stop_requested = asyncio.Event()
        self._wake = asyncio.Event()
        self._listener: Listener | None = None
        self._background: list[asyncio.Task[None]] = []
        self._sweeper: asyncio.Task[None] | None = None

    def request_stop(self) -> None:
        """Stop after the current sweep (idempotent, safe from a signal handler)."""
        self._stop_requested.set()
        self._wake.set()

    async def run(self) -> None:
        """Start, sweep until `request_stop()`, stop (the Worker's lifecycle)."""
        try:
            await self.start()
            await self._stop_requested.wait()
        finally:
            await self.stop()

    async def start(self) -> None:
        """Connect, subscribe to wake-ups, and begin sweeping."""
        await connect_patiently(self.store.connect, self._stop_requested, RECONNECT_DELAY)
        listener = self._listener = self.store.listener(self._on_notification, scheduler=True)
        stamp = self.settings.scheduler.health_file
        self._background = [
            asyncio.create_task(listener.run(), name="dtq-scheduler-notifications"),
            asyncio.create_task(every(heartbeat.STAMP_INTERVAL, "health stamp", lambda: _stamp(stamp)),
                                name="dtq-scheduler-stamp"),
        ]  # fmt: skip
        self.state = SchedulerState.RUNNING
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="dtq-scheduler-sweeps")
        log.info("scheduler running")

    async def stop(self) -> None:
        """Finish the current sweep, then stop (idempotent)."""
        if self.state is SchedulerState.STOPPED:
            return
        self.request_stop()
        if self._sweeper is not None:
            await self._sweeper
        await self._close()

    async def _sweep_loop(self) -> None:
        while not self._stop_requested.is_set():
            self._wake.clear()
            pause = await self._sweep_safely()
            await sleep_unless(self._wake, pause)

    async def _close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
        await stop_tasks(self._background)
        if self._owns_store:
            await self.store.close()
        self.state = SchedulerState.STOPPED
        log.info("scheduler stopped (%d promoted, %d recovered)", self.promoted, self.recovered)

    async def _sweep_safely(self) -> float:
        try:
            return await self.sweep()
        except RedisUnavailable as exc:
            log.warning("sweep failed: %s", exc)
        except Exception:  # a bug must not silently stop the scheduler
            log.exception("sweep failed unexpectedly; retrying")
        return RECONNECT_DELAY

    async def sweep(self) -> float:
        """One pass over every queue; returns how long to sleep before the next."""
        await self._refresh_queues()
        if not self._queues:
            return self.settings.scheduler.poll_interval
        queues = list(self._queues)
        await self._upgrade_layout(queues)
        pause = self.settings.scheduler.poll_interval
        for _ in range(MAX_CATCH_UP_ROUNDS):
            promotions, more = await self._promote_and_recover(queues)
            if not more:
                pause = min(pause, self._until_next(promotions))
                break
            pause = 0.0
        await self._retention(queues)
        return max(pause, 0.0)

    async def _upgrade_layout(self, queues: list[str]) -> None:
        """Move tasks queued under dtq 0.1's layout (one sorted set) to the queued lists, once per
        queue and process: the check is one call per queue, the move a batch per call."""
        pending = [q for q in queues if q not in self._upgraded]
        while pending:
            results = await self.store.run_many(
                [self.store.call(q, calls.upgrade_ready, self.settings.scheduler.batch) for q in pending]
            )
            for queue, result in zip(pending, results, strict=True):
                if result.moved:
                    log.info("queue %s: moved %d queued tasks to the current layout", queue, result.moved)
            self._upgraded.update(q for q, r in zip(pending, results, strict=True) if r.left == 0)
            pending = [q for q, r in zip(pending, results, strict=True) if r.left > 0]

    async def _promote_and_recover(self, queues: list[str]) -> tuple[list[Promotion], bool]:
        sc = self.settings.scheduler
        sweep: list[calls.Call[Promotion | calls.Recovery]] = [
            self.store.call(q, calls.promote, sc.batch) for q in queues
        ]
        sweep += [self.store.call(q, calls.requeue_expired, sc.batch) for q in queues]
        results = await self.store.run_many(sweep)
        promotions = [r for r in results if isinstance(r, Promotion)]
        recoveries = [r for r in results if isinstance(r, calls.Recovery)]
        self.promoted += sum(p.moved for p in promotions)
        for queue, r in zip(queues, recoveries, strict=True):
            if r.requeued or r.dead or r.cancelled:
                log.info("queue %s: recovered expired leases: %d requeued, %d dead, %d cancelled",
                         queue, r.requeued, r.dead, r.cancelled)  # fmt: skip
                self.recovered += r.requeued + r.dead + r.cancelled
        more = any(p.moved >= sc.batch for p in promotions) or any(
            r.requeued + r.dead + r.cancelled >= sc.batch for r in recoveries
        )
        return promotions, more

    def _until_next(self, promotions: list[Promotion]) -> float:
        """Seconds until the earliest due task or lease expiry, on Redis's clock."""
        waits = [
            (moment - p.now_ms) / 1000
            for p in promotions
            for moment in (p.next_due_ms, p.next_lease_expiry_ms)
            if moment is not None
        ]
        return min(waits, default=self.settings.scheduler.poll_interval)

    async def _retention(self, queues: list[str]) -> None:
        now = time.monotonic()
        if now - self._janitor_at < self.settings.scheduler.janitor_interval:
            return
        self._janitor_at = now
        pending = queues
        for _ in range(MAX_CATCH_UP_ROUNDS):
            results = await self.store.run_many(
                [
                    self.store.call(q, calls.expire, self.settings.scheduler.batch, self.settings.retention)
                    for q in pending
                ]
            )
            pending = [q for q, r in zip(pending, results, strict=True) if r.more]
            if not pending:
                break
        await self._retire_idle(queues)

    async def _retire_idle(self, queues: list[str]) -> None:
        """Take queues that held no task for DTQ_QUEUES_IDLE_TTL out of the index, so every sweep
        and every cross-queue read costs what the queues in use cost, not every name ever used."""
        now = time.monotonic()
        ttl = self.settings.queues.idle_ttl
        counts = await self.store.task_counts(queues)
        self._empty_since = {q: self._empty_since.get(q, now) for q, n in counts.items() if n == 0}
        for queue, since in list(self._empty_since.items()):
            if now - since >= ttl and await self.store.retire_if_empty(queue):
                del self._empty_since[queue]
                if queue in self._queues:
                    self._queues.remove(queue)
                log.info("queue %s held no task for %.0fs: it leaves the queue index until used again", queue, ttl)

    async def _refresh_queues(self) -> None:
        now = time.monotonic()
        if now - self._queues_read_at >= self.settings.scheduler.queue_refresh:
            self._queues = await self.store.queues()
            self._queues_read_at = now

    def _on_notification(self, channel: str, _data: str) -> None:
        queue = self.store.queue_of_channel(channel)
        if queue is not None and queue not in self._queues:
            self._queues.append(queue)
        self._wake.set()


async def _stamp(path: Path) -> None:
    heartbeat.stamp(path)
