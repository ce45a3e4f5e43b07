"""The worker: claims tasks in batches, runs their handlers, records outcomes, renews leases.

Lifecycle: starting -> running -> draining -> stopped. `run()` = `start()`, wait for
`request_stop()`, `stop()`. Building a Worker does no I/O and installs no signal handlers; the
`dtq worker` entrypoint owns signals and calls `request_stop()`, which is idempotent and safe
from a signal handler.

Per task: claim (one script call for up to the free slots) -> run under its timeout ->
complete | retry | bury (batched with other outcomes into one round trip). A slot is free only
once its outcome is recorded, so at most `concurrency` leases are held at any moment, which
bounds the tasks a crash can make run twice.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import secrets
import socket
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import msgspec

from dtq import heartbeat
from dtq.backoff import Backoff
from dtq.context import TaskContext
from dtq.errors import ConfigError, RedisUnavailable, UndecodableTask, UnknownTask
from dtq.execution import Deadline, Failed, Outcome, Succeeded, ThreadRunner, describe, execute
from dtq.keys import check_queue_name
from dtq.metrics import Recorder
from dtq.outbox import Kind, Outbox
from dtq.priority import PRIORITY_LEVELS
from dtq.registry import App, TaskDefinition
from dtq.runs import lease_token, safe_in_token
from dtq.settings import Settings
from dtq.shards import Shards
from dtq.slots import Slots
from dtq.store import calls, handover
from dtq.store.calls import Burial, ClaimedTask, Failure, HandBack, Lease, LeaseVerdict, Success
from dtq.store.store import Store
from dtq.store.wakeup import Listener
from dtq.task import UNKNOWN_TASK_NAME, TaskSpec, decode_spec, stored_name
from dtq.upkeep import connect_patiently, every, first_of, sleep_unless, stop_tasks

log = logging.getLogger("dtq.worker")

RECONNECT_DELAY = 1.0
DEADLINE_SWEEP = 0.1  # seconds between timeout checks: a timeout fires at most this late
# A parked worker (include/lease.lua) stays parked this many idle polls unless it claims again:
# long enough to outlast a late poll, short enough that few tasks are leased to a dead worker.
PARK_POLLS = 3
# A queue whose last claim found it empty (and parked the worker) is claimed again when a
# notification says it has work (or a hand-over brings some), and otherwise only this many idle
# polls later, at most a third of a lease: a worker on 1,000 quiet queues then costs Redis a few
# claims a second, not a thousand, and a hand-over whose message was lost is still fetched by
# the claim that resends its token before its lease can lapse.
EMPTY_RECHECK_POLLS = 10
# Logged for each outcome Redis refused; the chaos suite counts these lines.
OUTCOME_NOT_RECORDED = "not recorded: already recorded by an earlier send, or its lease was lost"
_encode = msgspec.json.Encoder().encode


class WorkerState(StrEnum):
    """Where a worker is in its life."""

    STARTING = "starting"
    RUNNING = "running"
    DRAINING = "draining"
    STOPPED = "stopped"


@dataclass(slots=True, eq=False)
class Held:
    """A task this worker holds a lease on."""

    queue: str
    claimed: ClaimedTask
    token: str
    ctx: TaskContext | None = None
    runner: asyncio.Task[None] | None = None
    deadline: Deadline | None = None
    settled: bool = False  # its outcome is in the outbox


def make_worker_id() -> str:
    """host:pid:random, readable in task records and unique across restarts."""
    host = safe_in_token(socket.gethostname())
    return f"{host}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    """Runs the handlers of `app` for tasks of `queues`, `concurrency` at a time."""

    def __init__(
        self,
        app: App,
        settings: Settings,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int | None = None,
        burst: bool = False,
        store: Store | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        # A sharded queue is consumed from all its shards, in the same rotation as several queues.
        self.queues = Shards(settings.redis.shards).expand(
            check_queue_name(q) for q in (queues or settings.worker.queues)
        )
        self.concurrency = concurrency or settings.worker.concurrency
        if self.concurrency < 1:
            raise ConfigError("worker concurrency must be at least 1")
        self.burst = burst
        self.id = make_worker_id()
        self.state = WorkerState.STARTING
        self.processed = 0
        self.failed = 0
        self._owns_store = store is None
        self.store = store if store is not None else Store(settings.redis)
        self._backoff = Backoff.from_defaults(settings.tasks)
        self._lease_ms = round(settings.worker.lease * 1000)
        self._slots: Slots[Held] = Slots(self.concurrency)
        self._latency = Recorder()
        self._outbox = Outbox(self.store)
        self._threads = ThreadRunner(self.concurrency, self._slots.abandon, self._slots.returned)
        self._claims = itertools.count(1)
        self._outcomes_recorded = 0  # outcomes flushed so far (burst mode's emptiness check reads it)
        # A claim whose reply never came keeps its token: the retry gets that same batch back.
        self._unanswered: dict[str, str] = {}
        self._answered: dict[str, str] = {}  # per queue, the last answered claim token, to forget
        # Tokens of claims awaiting their reply: a hand-over to one of them is that reply's too.
        self._in_flight: set[str] = set()
        # Per queue, the park token the unanswered claim offers: sent again with every resend of
        # that claim (one the client gave up on may still have run and parked it), and the next
        # claim's token once it is answered, so a hand-over to it always comes back.
        self._parks: dict[str, str] = {}
        self._empty: dict[str, float] = {}  # queue -> loop time its last claim found nothing queued
        # Half the slots per claim: one batch runs and is recorded while the next is claimed.
        self._batch_limit = max(1, self.concurrency // 2)
        self._rotation = itertools.cycle(range(len(self.queues)))
        # The two signals: stop (drain, then exit) and hurry (skip the rest of the grace period).
        self._stop_requested = asyncio.Event()
        self._hurry = asyncio.Event()
        # Not a signal to stop: new work may be ready (a notification, or the stop itself).
        self._wake = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        self._listener: Listener | None = None
        self._claimer: asyncio.Task[None] | None = None
        self._started_at = 0.0

    # --- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Start, work until `request_stop()` (or, in burst mode, until the queues are empty), stop."""
        try:
            await self.start()
            await self._stop_requested.wait()
        finally:
            await self.stop()

    def request_stop(self, *, now: bool = False) -> None:
        """Ask the worker to drain and stop; `now` skips the grace period (a second signal)."""
        if now:
            self._hurry.set()
        self._stop_requested.set()
        self._wake.set()

    async def start(self) -> None:
        """Connect, register, and begin claiming."""
        self._started_at = time.time()
        heartbeat_path = self.settings.worker.health_file
        try:
            heartbeat.stamp(heartbeat_path)
        except OSError as exc:
            raise ConfigError(f"DTQ_WORKER_HEALTH_FILE: cannot write {heartbeat_path}: {exc}") from exc
        await connect_patiently(self.store.connect, self._stop_requested, RECONNECT_DELAY)
        listener = self._listener = self.store.listener(
            self._on_notification, worker_queues=self.queues, worker_id=self.id
        )
        ws = self.settings.worker
        # Upkeep runs on through the drain (leases must be renewed while tasks finish) and ends
        # when stop() cancels it.
        self._background = [
            asyncio.create_task(listener.run(), name="dtq-notifications"),
            asyncio.create_task(every(heartbeat.STAMP_INTERVAL, "health stamp", self._stamp), name="dtq-stamp"),
            asyncio.create_task(every(ws.heartbeat_interval, "heartbeat", self._heartbeat), name="dtq-heartbeat"),
            # histograms go out as often as heartbeats, but a slow one does not delay the other
            asyncio.create_task(
                every(ws.heartbeat_interval, "histograms", self._add_observations), name="dtq-histograms"
            ),
            asyncio.create_task(every(ws.lease / 3, "lease renewal", self._renew_leases), name="dtq-leases"),
            asyncio.create_task(every(DEADLINE_SWEEP, "timeouts", self._enforce_deadlines), name="dtq-timeouts"),
            asyncio.create_task(self._record_outcomes(), name="dtq-outcomes"),
        ]
        self.state = WorkerState.RUNNING
        self._claimer = asyncio.create_task(self._claim_loop(), name="dtq-claims")
        log.info("worker %s consuming %s with concurrency %d", self.id, ",".join(self.queues), self.concurrency)

    async def stop(self) -> None:
        """Stop claiming, let running tasks finish within the grace period, hand back the rest."""
        if self.state in (WorkerState.DRAINING, WorkerState.STOPPED):
            return
        self.state = WorkerState.DRAINING
        self.request_stop()
        if self._claimer is not None:
            await self._claimer
        await self._unpark()
        log.info("worker %s draining %d task(s)", self.id, len(self._slots))
        await self._drain(self.settings.worker.shutdown_grace, self.settings.worker.shutdown_hard_deadline)
        await self._hand_back_unfinished()
        if self._listener is not None:
            self._listener.stop()
        try:
            await self.store.add_observations(self._latency)
        except RedisUnavailable as exc:
            log.warning("could not record latency histograms: %s", exc)
        await stop_tasks(self._background)
        try:
            await self.store.withdraw(self.id)
        except RedisUnavailable as exc:
            log.warning("could not withdraw from the worker registry: %s", exc)
        self._threads.shutdown()
        if self._owns_store:
            await self.store.close()
        self.state = WorkerState.STOPPED
        log.info("worker %s stopped (%d processed, %d failed)", self.id, self.processed, self.failed)

    async def _drain(self, grace: float, hard_deadline: float) -> None:
        """Let held tasks finish for `grace` seconds (less if hurried), then cancel their handlers
        and wait at most `hard_deadline` more: a handler that ignores its cancellation is left
        behind (its task is handed back), so it cannot keep the process, or its pod, alive."""
        await first_of(self._slots.wait_for_empty(), self._hurry.wait(), timeout=grace)
        await stop_tasks([h.runner for h in self._slots if not h.settled and h.runner is not None], hard_deadline)

    async def _hand_back_unfinished(self) -> None:
        """Record what finished, then give every other lease back at once."""
        for _ in range(3):
            try:
                await self._flush()
                break
            except RedisUnavailable as exc:
                log.warning("could not record outcomes before exit: %s", exc)
                await asyncio.sleep(RECONNECT_DELAY)
        unfinished: dict[str, list[HandBack]] = defaultdict(list)
        for held in self._slots:
            if not held.settled:
                name = held.ctx.task if held.ctx else stored_name(held.claimed.spec)
                unfinished[held.queue].append(HandBack(held.claimed.id, held.token, name, held.claimed.ready_ms))
        if not unfinished:
            return
        try:
            await self.store.run_many([self.store.call(q, calls.release, items) for q, items in unfinished.items()])
            log.info("handed back %d unfinished task(s)", sum(len(v) for v in unfinished.values()))
        except RedisUnavailable as exc:
            log.warning("could not hand back tasks (%s); their leases will expire and they will be retried", exc)

    # --- claiming ----------------------------------------------------------------------------

    def free_slots(self) -> int:
        """How many more tasks this worker may hold now."""
        return self._slots.free

    async def _claim_loop(self) -> None:
        while self.state is WorkerState.RUNNING and not self._stop_requested.is_set():
            if self._slots.free <= 0:
                await first_of(self._slots.wait_for_free(), self._stop_requested.wait())
                continue
            self._wake.clear()
            recorded_before = self._outcomes_recorded
            try:
                claimed, more = await self._claim_round()
            except RedisUnavailable as exc:
                log.warning("claim failed: %s", exc)
                await sleep_unless(self._stop_requested, RECONNECT_DELAY)
                continue
            except Exception:  # a bug must not silently stop a worker from claiming
                log.exception("claim failed unexpectedly; retrying")
                await sleep_unless(self._stop_requested, RECONNECT_DELAY)
                continue
            if claimed or more:
                continue
            # A retry recorded while the round was out may have made a task ready again after the
            # round looked: empty means empty only if no outcome was recorded meanwhile.
            if self.burst and not len(self._slots) and self._outcomes_recorded == recorded_before:
                log.info("burst mode: queues are empty, stopping")
                self.request_stop()
                return
            await sleep_unless(self._wake, self.settings.worker.idle_poll)

    async def _claim_round(self) -> tuple[int, bool]:
        """Claim from each queue in turn (starting one further each round) while slots are free:
        how many tasks were claimed, and whether a queue that gave none still has queued tasks
        (its claim passed stale entries, include/queued.lua: claim again at once)."""
        start = next(self._rotation)
        rotation = [self.queues[(start + i) % len(self.queues)] for i in range(len(self.queues))]
        # Unanswered claims first: their tasks are already ours and count against our slots.
        ordered = sorted(rotation, key=lambda queue: queue not in self._unanswered)
        ws = self.settings.worker
        recheck = self._loop_time() - min(EMPTY_RECHECK_POLLS * ws.idle_poll, ws.lease / 3)
        if not self.burst:  # a burst worker stops on an empty round: it must have asked every queue
            ordered = [q for q in ordered if self._empty.get(q, recheck) <= recheck]
        total, more = 0, False
        for queue in ordered:
            free = self.free_slots()
            if free <= 0:
                break
            claimed, left = await self._claim(queue, min(free, self._batch_limit))
            total += claimed
            more = more or (claimed == 0 and left > 0)
        return total, more

    async def _claim(self, queue: str, count: int, *, park: bool = True) -> tuple[int, int]:
        """Claim up to `count` tasks of `queue`: how many it took, and how many are still queued.

        A claim that leaves free slots and nothing queued parks the worker under its next token:
        an enqueue may then lease tasks to that token and send them (`_on_notification`), and
        the next claim on the queue uses the token, so it gets them back if that message was lost.
        """
        token = self._unanswered.setdefault(queue, lease_token(self.id, next(self._claims)))
        park_token = self._parks.setdefault(queue, lease_token(self.id, next(self._claims))) if park else ""
        park_ms = round(PARK_POLLS * self.settings.worker.idle_poll * 1000)
        self._in_flight.add(token)
        try:
            batch = await self.store.run(
                self.store.call(queue, calls.claim, count=count, lease_ms=self._lease_ms, token=token,
                            order=self._priority_order(), forget=self._answered.get(queue, ""),
                            park_token=park_token, park_ms=park_ms)
            )  # fmt: skip
        finally:
            self._in_flight.discard(token)
        del self._unanswered[queue]
        self._accept(queue, token, batch)
        # Only a parked queue may be left alone: a hand-over reaches it as a message. An empty
        # claim that did not park (its park token was handed tasks by an earlier send of it)
        # must be followed at once by the claim that resends that token.
        if batch.parked:
            self._empty[queue] = self._loop_time()
        else:
            self._empty.pop(queue, None)
        if self._parks.pop(queue, None) == park_token and park_token:
            self._unanswered[queue] = park_token  # parked or not: an earlier send may have parked it
        return len(batch.tasks), batch.ready_left

    def _accept(self, queue: str, token: str, batch: calls.ClaimBatch) -> None:
        """Hold what a claim or a hand-over leased to `token`: run what fits in the free slots and
        hand the rest back (a hand-over may arrive when other queues' tasks took the slots)."""
        self._answered[queue] = token
        fits, extra = batch.tasks[: self._slots.free], batch.tasks[self._slots.free :]
        for claimed in fits:
            self._latency.observe(queue, "pickup", max(0, batch.now_ms - claimed.ready_ms) / 1000)
            held = Held(queue, claimed, token)
            self._slots.take(claimed.id, held)
            held.runner = asyncio.create_task(self._process(held))
        if extra:
            back = [HandBack(t.id, token, stored_name(t.spec), t.ready_ms) for t in extra]
            self._background.append(asyncio.create_task(self._give_back(queue, back), name="dtq-hand-back-extra"))

    async def _give_back(self, queue: str, items: list[HandBack]) -> None:
        try:
            await self.store.run(self.store.call(queue, calls.release, items))
        except RedisUnavailable as exc:
            log.warning("could not hand back %d task(s) beyond the free slots (%s); their leases will expire",
                        len(items), exc)  # fmt: skip

    async def _unpark(self) -> None:
        """Stop being handed tasks: claim nothing under each parked token, which unparks it and
        returns whatever an enqueue leased to it meanwhile (the drain then runs or hands it back)."""
        for queue, token in list(self._unanswered.items()):
            try:
                await self._claim(queue, 0, park=False)
            except RedisUnavailable as exc:
                log.warning("could not unpark from %s (%s); tasks leased to %s come back when their lease expires",
                            queue, exc, token)  # fmt: skip

    def _hand_over(self, message: str) -> None:
        """Tasks an enqueue leased to a token this worker parked under: held as that claim's reply."""
        try:
            token, batch = handover.parse(message.encode(errors="surrogateescape"))
        except (handover.BadHandover, ValueError, UnicodeError) as exc:
            log.warning("unreadable hand-over (%s); claiming again instead", exc)
            self._empty.clear()
            self._wake.set()
            return
        queue = next((q for q, t in self._parks.items() if t == token), None)
        if queue is not None:
            del self._parks[queue]  # leased to the park token of a claim still unanswered
        else:
            queue = next((q for q, t in self._unanswered.items() if t == token), None)
            if queue is None or token in self._in_flight:
                # Already answered, or about to be: a claim sent with this token gets them back.
                return
            del self._unanswered[queue]
        self._accept(queue, token, batch)
        self._empty.pop(queue, None)
        self._wake.set()  # free slots left: claim again, which parks again if nothing is queued

    def _priority_order(self) -> str:
        """'' for strict priority; in weighted mode, priority levels drawn by weight."""
        if self.settings.worker.priority_mode == "strict":
            return ""
        levels = list(PRIORITY_LEVELS)
        weights = self.settings.worker.weights()
        order = []
        while levels:
            pick = random.choices(range(len(levels)), weights=[weights[lv] for lv in levels])[0]  # noqa: S311
            order.append(levels.pop(pick))
        return ",".join(str(level) for level in order)

    # --- running one task --------------------------------------------------------------------

    async def _process(self, held: Held) -> None:
        claimed = held.claimed
        try:
            spec = decode_spec(claimed.spec) if claimed.spec is not None else None
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            spec = None
            reason = f"the stored record is not a dtq task: {exc}"
        else:
            reason = "the stored record is missing"
        if spec is None:
            self._settle_without_running(
                held, UNKNOWN_TASK_NAME, describe(UndecodableTask(reason), with_traceback=False)
            )
            return
        definition = self.app.get(spec.task)
        if definition is None:
            self._settle_unknown(held, spec)
            return
        ctx = TaskContext(
            id=claimed.id, task=spec.task, queue=held.queue, attempt=claimed.attempt,
            max_retries=spec.max_retries, timeout=spec.timeout, token=held.token, worker_id=self.id,
        )  # fmt: skip
        held.ctx = ctx
        started = time.perf_counter()
        held.deadline = Deadline(self._loop_time() + spec.timeout)
        outcome = await execute(definition, spec.payload, ctx, held.deadline, self._threads)
        self._latency.observe(held.queue, "duration", time.perf_counter() - started)
        self._settle(held, spec, definition, outcome)

    def _settle_unknown(self, held: Held, spec: TaskSpec) -> None:
        if self.settings.worker.unknown_tasks == "log":
            log.info("no handler for task %r (%s); logged and marked succeeded", spec.task, held.claimed.id)
            self._put(held, "complete", Success(held.claimed.id, held.token, spec.task, None))
            return
        error = describe(UnknownTask(f"no handler is registered for task {spec.task!r}"), with_traceback=False)
        self._settle_without_running(held, spec.task, error)

    def _settle_without_running(self, held: Held, name: str, error: object) -> None:
        log.error("task %s (%s) dead-lettered without running: %s", held.claimed.id, name, error)
        self.failed += 1
        self._put(held, "unrunnable", Burial(held.claimed.id, held.token, name, _encode(error)))

    def _settle(self, held: Held, spec: TaskSpec, definition: TaskDefinition, outcome: Outcome) -> None:
        claimed = held.claimed
        if isinstance(outcome, Succeeded):
            self._put(held, "complete", Success(claimed.id, held.token, spec.task, outcome.result))
            return
        self.failed += 1
        error = _encode(outcome.error)
        what = f"task {claimed.id} ({spec.task}) attempt {claimed.attempt}/{spec.max_retries + 1}"
        if held.ctx is not None and held.ctx.cancel_requested:
            log.info("%s stopped after a cancel request: %s", what, outcome.error.message)
            self._put(held, "cancelled", Burial(claimed.id, held.token, spec.task, error))
        elif outcome.final or claimed.attempt > spec.max_retries:
            log.error("%s failed for good: %s: %s", what, outcome.error.type, outcome.error.message)
            self._put(held, "dead", Burial(claimed.id, held.token, spec.task, error))
        else:
            delay = self._retry_delay(outcome, definition, claimed.attempt)
            log.warning("%s failed: %s: %s; retrying in %.2fs", what, outcome.error.type, outcome.error.message, delay)
            self._put(held, "retry", Failure(claimed.id, held.token, spec.task, error, round(delay * 1000)))

    def _retry_delay(self, outcome: Failed, definition: TaskDefinition, attempt: int) -> float:
        if outcome.retry_delay is not None:
            return outcome.retry_delay
        return (definition.backoff or self._backoff).delay(attempt)

    def _put(self, held: Held, kind: Kind, entry: Success | Failure | Burial) -> None:
        held.settled = True
        self.processed += 1
        self._outbox.add(held.queue, kind, entry)

    # --- recording outcomes ------------------------------------------------------------------

    async def _record_outcomes(self) -> None:
        """Flush the outbox whenever it has entries: natural batching under load."""
        while True:
            await self._outbox.wait_for_entries()
            try:
                await self._flush()
            except Exception as exc:  # the outbox keeps the outcomes; their leases are renewed meanwhile
                if isinstance(exc, RedisUnavailable):
                    log.warning("recording outcomes failed (%s); retrying", exc)
                else:
                    log.exception("recording outcomes failed unexpectedly; retrying")
                await asyncio.sleep(RECONNECT_DELAY / 4)

    async def _flush(self) -> None:
        for recorded in await self._outbox.flush():
            self._outcomes_recorded += 1
            self._slots.give(recorded.id)
            if not recorded.accepted:
                log.info("outcome %s of task %s %s", recorded.kind, recorded.id, OUTCOME_NOT_RECORDED)

    # --- upkeep ------------------------------------------------------------------------------

    async def _renew_leases(self) -> None:
        by_queue: dict[str, list[Held]] = defaultdict(list)
        for held in self._slots:
            by_queue[held.queue].append(held)
        if not by_queue:
            return
        groups = list(by_queue.items())
        verdicts = await self.store.run_many(
            [self.store.call(q, calls.extend, [Lease(h.claimed.id, h.token) for h in hs], self._lease_ms)
             for q, hs in groups]
        )  # fmt: skip
        for (_, helds), flags in zip(groups, verdicts, strict=True):
            for held, verdict in zip(helds, flags, strict=True):
                self._apply_lease_verdict(held, verdict)

    def _apply_lease_verdict(self, held: Held, verdict: LeaseVerdict) -> None:
        if verdict is LeaseVerdict.LOST and not held.settled:
            log.warning("lease of task %s lost; a success counts only while no newer attempt starts", held.claimed.id)
            if held.ctx is not None:
                held.ctx.mark_lease_lost()
        elif verdict is LeaseVerdict.CANCEL_REQUESTED and held.ctx is not None:
            held.ctx.request_cancel()

    async def _heartbeat(self) -> None:
        ws = self.settings.worker
        fields: dict[str, str | int | float] = {
            "id": self.id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "queues": ",".join(self.queues),
            "concurrency": self.concurrency,
            "in_flight": len(self._slots),
            "processed": self.processed,
            "failed": self.failed,
            "state": self.state.value,
            "started_at": self._started_at,
        }
        await self.store.heartbeat(self.id, fields, ws.heartbeat_interval * 3, queues=self.queues)

    async def _add_observations(self) -> None:
        await self.store.add_observations(self._latency)

    async def _enforce_deadlines(self) -> None:
        now = self._loop_time()
        for held in self._slots:
            deadline, runner = held.deadline, held.runner
            if deadline is not None and not deadline.passed and deadline.at <= now and not held.settled:
                deadline.passed = True
                if runner is not None:
                    runner.cancel()

    @staticmethod
    def _loop_time() -> float:
        return asyncio.get_running_loop().time()

    async def _stamp(self) -> None:
        heartbeat.stamp(self.settings.worker.health_file)

    def _on_notification(self, channel: str, data: str) -> None:
        if self.store.is_inbox(channel):
            if data.startswith("take "):
                self._hand_over(data)
            return
        if data.startswith("cancel "):
            held = self._slots.get(data[7:])
            if held is not None and held.ctx is not None:
                held.ctx.request_cancel()
            return
        queue = self.store.queue_of_channel(channel)
        if queue is None:
            self._empty.clear()  # reconnected: anything may have happened meanwhile
        else:
            self._empty.pop(queue, None)
        self._wake.set()
