"""A Hypothesis state machine: random sequences of every transition, checked against a model.

After each step, every task's state and attempts in Redis must match the model, each task must
sit in exactly the one set its state names, only active tasks may hold a lease token, and
claims must honour strict priority and FIFO among tasks that were never requeued.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from dtq.client import Client
from dtq.priority import PRIORITY_LEVELS
from dtq.runs import Run
from dtq.settings import RetentionSettings, Settings, TaskDefaults
from dtq.store import calls, queued
from dtq.store.calls import Burial, Failure, HandBack, Success
from dtq.task import TaskRequest, prepare
from tests.support.redis_server import RedisServer

SETS = ("scheduled", "retrying", "active", "succeeded", "cancelled", "dead")  # sorted sets named by their state


@dataclass
class Model:
    """What we believe about one task."""

    id: str
    priority: int
    max_retries: int
    order: int  # enqueue order, for FIFO checks
    state: str
    attempts: int = 0
    token: str | None = None  # the lease token while it is active
    last_token: str | None = None  # the token of its latest claim, which its run record keeps
    ready_ms: int = 0
    cancel_requested: bool = False
    requeued: bool = False  # its place in line is no longer its enqueue order


@dataclass
class Machine:
    """Holds the event loop and client one state machine run uses."""

    redis_url: str
    prefix: str
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)


class QueueMachine(RuleBasedStateMachine):
    """Drives one queue through random transitions; `redis_url` and `prefix` are set by the test."""

    redis_url = ""
    prefix = ""
    names = itertools.count()

    @initialize()
    def setup(self) -> None:
        self.env = Machine(self.redis_url, self.prefix)
        self.client = Client(Settings(redis={"url": self.redis_url, "key_prefix": self.prefix}))  # type: ignore[arg-type]
        self.keys = self.client.store.keys(f"m{next(self.names)}")
        self.retention = RetentionSettings()
        self.tasks: dict[str, Model] = {}
        self.tokens = itertools.count()
        self.claims: dict[str, list[str]] = {}  # token -> ids that claim took
        self.parked: dict[str, int] = {}  # park token -> free slots: an enqueue may lease to it
        self.enqueued = itertools.count()

    def teardown(self) -> None:
        if hasattr(self, "env"):
            self.env.run(self.client.close())
            self.env.loop.close()

    def script(self, call: calls.Call[Any]) -> Any:
        return self.env.run(self.client.store.scripts.run(call))

    def held(self) -> list[Model]:
        return [t for t in self.tasks.values() if t.state == "active"]

    def pick(self, models: list[Model], index: int) -> Model:
        return sorted(models, key=lambda t: t.id)[index % len(models)]

    @rule(priority=st.integers(0, 9), delayed=st.booleans(), max_retries=st.integers(0, 2))
    def enqueue(self, priority: int, delayed: bool, max_retries: int) -> None:
        request = TaskRequest(task="t", queue=self.keys.name, priority=priority, max_retries=max_retries,
                              delay=3600 if delayed else None)  # fmt: skip
        nothing_queued = not any(t.state == "queued" for t in self.tasks.values())
        (outcome,) = self.script(calls.enqueue(self.keys, prepare([request], TaskDefaults()), self.retention))
        model = self.tasks[outcome.id] = Model(outcome.id, priority, max_retries, next(self.enqueued),
                                               "scheduled" if delayed else "queued")  # fmt: skip
        if not delayed and nothing_queued and self.parked:
            # Handed over: leased to one parked token (whichever the script found first).
            run = Run.parse(self.env.run(self.client.store.redis.hget(self.keys.column("run"), outcome.id)))
            assert run.token in self.parked, (run, self.parked)
            del self.parked[run.token]
            model.state, model.attempts, model.token, model.last_token = "active", 1, run.token, run.token
            self.claims[run.token] = [outcome.id]

    @rule(count=st.integers(1, 4))
    def claim_and_park(self, count: int) -> None:
        """A claim that leaves free slots and nothing queued parks its worker under a new token."""
        token, park_token = f"tok{next(self.tokens)}", f"tok{next(self.tokens)}"
        batch = self.script(calls.claim(self.keys, count=count, lease_ms=600_000, token=token, order="",
                                        park_token=park_token, park_ms=600_000))  # fmt: skip
        self.record_claim(token, batch, count)
        left = any(t.state == "queued" for t in self.tasks.values())
        assert batch.parked is (not left and len(batch.tasks) < count)
        if batch.parked:
            self.parked[park_token] = count - len(batch.tasks)

    @rule(count=st.integers(1, 4))
    def claim(self, count: int) -> None:
        token = f"tok{next(self.tokens)}"
        batch = self.script(calls.claim(self.keys, count=count, lease_ms=600_000, token=token,
                                        order=""))  # fmt: skip
        self.record_claim(token, batch, count)
        assert not batch.parked

    def record_claim(self, token: str, batch: calls.ClaimBatch, count: int) -> None:
        ready = [t for t in self.tasks.values() if t.state == "queued"]
        claimed = [self.tasks[c.id] for c in batch.tasks]
        assert len(claimed) == min(count, len(ready))
        rest = [t for t in ready if t not in claimed]
        if claimed and rest:
            assert min(t.priority for t in claimed) >= max(t.priority for t in rest), "strict priority broken"
        for t in claimed:
            fresh_rivals = [u for u in rest if u.priority == t.priority and not u.requeued and not t.requeued]
            assert all(u.order > t.order for u in fresh_rivals), "FIFO broken"
        if batch.tasks:  # an empty claim leaves no record: sent again, it is a new claim
            self.claims[token] = [c.id for c in batch.tasks]
        for c in batch.tasks:
            model = self.tasks[c.id]
            model.state, model.attempts, model.token, model.last_token, model.ready_ms = (
                "active",
                model.attempts + 1,
                token,
                token,
                c.ready_ms,
            )
            assert c.attempt == model.attempts

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 50))
    def resend_claim(self, index: int) -> None:
        """A claim sent again with its token (its reply was lost): the same batch back, taking back
        what lapsed or ended since unless a newer claim took it or it finished for good."""
        token = sorted(self.claims)[index % len(self.claims)]
        batch = self.script(calls.claim(self.keys, count=4, lease_ms=600_000, token=token, order=""))
        self.parked.pop(token, None)  # any claim unparks its token
        ours = [self.tasks[i] for i in self.claims[token] if i in self.tasks and self.tasks[i].last_token == token]
        expected = [t for t in ours if t.state in ("active", "queued", "dead")]
        assert [c.id for c in batch.tasks] == [t.id for t in expected]
        for c, t in zip(batch.tasks, expected, strict=True):
            if t.state != "active":
                t.attempts = max(t.attempts, 1)  # a redriven task's count restarts with this run
            assert c.attempt == t.attempts
            t.state, t.token = "active", token

    @precondition(lambda self: self.held())
    @rule(index=st.integers(0, 50), stale=st.booleans())
    def complete(self, index: int, stale: bool) -> None:
        t = self.pick(self.held(), index)
        token = "stale" if stale else t.token
        assert token is not None
        (accepted,) = self.script(calls.complete(self.keys, [Success(t.id, token, "t", b"1")]))
        assert accepted is not stale
        if not stale:
            t.state, t.token, t.cancel_requested = "succeeded", None, False

    @precondition(lambda self: any(t.last_token and t.state != "active" for t in self.tasks.values()))
    @rule(index=st.integers(0, 50))
    def late_complete(self, index: int) -> None:
        """The latest run's success arrives after that run ended otherwise: it counts as long as
        no newer attempt started and the task was not cancelled or finished."""
        t = self.pick([t for t in self.tasks.values() if t.last_token and t.state != "active"], index)
        assert t.last_token is not None
        (accepted,) = self.script(calls.complete(self.keys, [Success(t.id, t.last_token, "t", b"1")]))
        assert accepted is (t.state in ("queued", "dead"))
        if accepted:
            t.state = "succeeded"

    @precondition(lambda self: self.held())
    @rule(index=st.integers(0, 50), later=st.booleans())
    def retry(self, index: int, later: bool) -> None:
        t = self.pick(self.held(), index)
        assert t.token is not None
        failure = Failure(t.id, t.token, "t", b"{}", 3_600_000 if later else 0)
        assert self.script(calls.retry(self.keys, [failure])) == [True]
        t.token = None
        if t.cancel_requested:
            t.state, t.cancel_requested = "cancelled", False
        else:
            t.state, t.requeued = ("retrying" if later else "queued"), True

    @precondition(lambda self: self.held())
    @rule(index=st.integers(0, 50))
    def bury(self, index: int) -> None:
        t = self.pick(self.held(), index)
        assert t.token is not None
        assert self.script(calls.bury(self.keys, "dead", [Burial(t.id, t.token, "t", b"{}")])) == [True]
        t.state, t.token, t.cancel_requested = "dead", None, False

    @precondition(lambda self: self.held())
    @rule(index=st.integers(0, 50))
    def release(self, index: int) -> None:
        t = self.pick(self.held(), index)
        assert t.token is not None
        self.script(calls.release(self.keys, [HandBack(t.id, t.token, "t", t.ready_ms)]))
        t.token = t.last_token = None  # the handed-back run is abandoned; its record forgets the token
        if t.cancel_requested:
            t.state, t.cancel_requested = "cancelled", False
        else:
            t.state, t.attempts = "queued", t.attempts - 1

    @precondition(lambda self: self.tasks)
    @rule(index=st.integers(0, 50))
    def cancel(self, index: int) -> None:
        t = self.pick(list(self.tasks.values()), index)
        outcome = self.script(calls.cancel(self.keys, t.id))
        if t.state in ("queued", "scheduled", "retrying"):
            assert outcome.outcome is calls.Cancelled.NOW
            t.state = "cancelled"
        elif t.state == "active":
            assert outcome.outcome is calls.Cancelled.REQUESTED
            t.cancel_requested = True
        else:
            assert (outcome.outcome, outcome.state) == (calls.Cancelled.ALREADY_FINAL, t.state)

    @precondition(lambda self: self.held())
    @rule()
    def leases_expire(self) -> None:
        self.env.run(self.client.store.redis.zadd(self.keys.active, {t.id: 0 for t in self.held()}))
        self.script(calls.requeue_expired(self.keys, 1000))
        for t in self.held():
            t.token, t.requeued = None, True
            if t.cancel_requested:
                t.state, t.cancel_requested = "cancelled", False
            else:
                t.state = "dead" if t.attempts > t.max_retries else "queued"

    @precondition(lambda self: any(t.state in ("scheduled", "retrying") for t in self.tasks.values()))
    @rule()
    def time_passes(self) -> None:
        waiting = [t for t in self.tasks.values() if t.state in ("scheduled", "retrying")]
        for key in (self.keys.scheduled, self.keys.retrying):
            self.env.run(self.client.store.redis.zadd(key, {t.id: 0 for t in waiting}, xx=True))
        self.script(calls.promote(self.keys, 1000))
        for t in waiting:
            t.state, t.requeued = "queued", True

    @precondition(lambda self: any(t.state == "dead" for t in self.tasks.values()))
    @rule(index=st.integers(0, 50), purge=st.booleans())
    def dead_letters(self, index: int, purge: bool) -> None:
        t = self.pick([t for t in self.tasks.values() if t.state == "dead"], index)
        if purge:
            assert self.script(calls.purge(self.keys, [t.id])) == 1
            del self.tasks[t.id]
        else:
            assert self.script(calls.redrive(self.keys, [t.id])) == 1
            t.state, t.attempts, t.requeued = "queued", 0, True

    @invariant()
    def redis_matches_the_model(self) -> None:
        if not hasattr(self, "env"):
            return
        redis = self.client.store.redis
        members = {name: set(self.env.run(redis.zrange(getattr(self.keys, name), 0, -1))) for name in SETS}
        ids = list(self.tasks)
        states = self.env.run(redis.hmget(self.keys.column("state"), ids)) if ids else []
        runs = self.env.run(redis.hmget(self.keys.column("run"), ids)) if ids else []
        # A queued task has no state field and one live entry, in its level's list; every other
        # entry there is stale (its task is in another state, or gone), and the counts hash says
        # how many queued tasks each level has.
        members["queued"] = set()
        for level in PRIORITY_LEVELS:
            for raw in self.env.run(redis.lrange(self.keys.queued_list(level), 0, -1)):
                task_id = queued.parse(raw.decode())[0]
                model = self.tasks.get(task_id)
                if model is not None and model.state == "queued":
                    assert model.priority == level, (task_id, level, model)
                    members["queued"].add(task_id.encode())
        counts = {int(k): int(v) for k, v in self.env.run(redis.hgetall(self.keys.queued)).items()}
        expected = Counter(t.priority for t in self.tasks.values() if t.state == "queued")
        assert {k: v for k, v in counts.items() if v} == dict(expected), (counts, expected)
        for task_id, state, raw_run in zip(ids, states, runs, strict=True):
            model = self.tasks[task_id]
            run = Run.parse(raw_run)
            assert (state.decode() if state else "queued") == model.state, (task_id, state, model)
            assert run.attempts == model.attempts
            if model.state == "active":
                assert run.token == model.token  # the current claim's token is the one accepted
            homes = [name for name in members if task_id.encode() in members[name]]
            assert homes == [model.state], (task_id, homes, model.state)
        assert sum(len(m) for m in members.values()) == len(self.tasks)
        parked = {k.decode() for k in self.env.run(redis.hkeys(self.keys.parked))}
        assert parked == set(self.parked), (parked, self.parked)


def test_the_queue_behaves_like_its_model(redis_server: RedisServer, prefix: str) -> None:
    QueueMachine.redis_url = redis_server.url
    QueueMachine.prefix = prefix
    run_state_machine_as_test(
        QueueMachine,
        settings=settings(
            max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        ),
    )
