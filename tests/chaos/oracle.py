"""The bookkeeping of a chaos run, after Jepsen's total-queue checker, and its JSON verdict.

Two witnesses that no fault touches:
- the producer's `Ledger` (in the test process): every task it tried to enqueue, under its own
  reference `ref`, with the outcome of each try: `ok` (the API answered 200 with an id), `fail`
  (a definite 4xx) or `indeterminate` (timeout, reset, 5xx: it may or may not be stored);
- the handlers' `events` in the oracle Redis: a start and a finish per execution.

From those and the final task records in dtq's Redis, `account()` counts:
- lost: acknowledged, yet never finished with its record `succeeded`  -> must be 0;
  a finished task whose record is gone counts as succeeded only when retention could have
  deleted it (finished longer ago than `retention` seconds); otherwise it vanished (a Redis crash
  or failover dropped it) and is lost;
- unexpected: ran, yet never invoked or definitely refused (4xx)       -> must be 0;
- duplicate enqueues: one ref stored as more than one task              -> must be 0;
- extra executions: starts beyond the first, per ref                   -> bounded per scenario;
- recovered: indeterminate, yet executed (either outcome is allowed; reported).
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis

from dtq.client import Client
from dtq.priority import PRIORITY_LEVELS
from dtq.settings import RetentionSettings
from dtq.store import queued
from dtq.task import Task, TaskState
from tests.chaos.handlers import EVENTS

FINAL = {TaskState.SUCCEEDED, TaskState.DEAD, TaskState.CANCELLED}
ROOT = Path(__file__).resolve().parent


@dataclass
class Submission:
    """One task the producer tried to enqueue."""

    ref: str
    outcome: str = "invoked"  # then ok | fail | indeterminate
    ids: set[str] = field(default_factory=set)
    tries: list[str] = field(default_factory=list)  # status code or error name per try
    invoked_at: float = field(default_factory=time.time)
    acked_at: float | None = None


class Ledger:
    """What the producer did, per ref."""

    def __init__(self) -> None:
        self.submissions: dict[str, Submission] = {}
        self.statuses: Counter[str] = Counter()

    def invoke(self, ref: str) -> Submission:
        return self.submissions.setdefault(ref, Submission(ref))

    def record(self, ref: str, status: str, task_id: str | None = None) -> None:
        entry = self.submissions[ref]
        entry.tries.append(status)
        self.statuses[status] += 1
        if task_id is not None:
            entry.ids.add(task_id)
        if status == "200":
            entry.outcome = "ok"
            entry.acked_at = entry.acked_at or time.time()
        elif status.startswith("4"):
            entry.outcome = "fail" if entry.outcome != "ok" else "ok"
        elif entry.outcome == "invoked":
            entry.outcome = "indeterminate"

    def acknowledged(self) -> set[str]:
        return {r for r, s in self.submissions.items() if s.outcome == "ok"}

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.submissions.values() if s.outcome == outcome)


@dataclass(frozen=True)
class Event:
    """One handler event from the oracle."""

    kind: str  # start | finish
    ref: str
    id: str
    pid: int
    attempt: int
    token: str
    t: float  # ms, wall clock
    claimed: int | None = None  # ms, Redis clock (when asked for)


def read_events(oracle: redis.Redis) -> list[Event]:
    """Every handler event, in the order they were written."""
    events: list[Event] = []
    start, step = 0, 10_000
    while True:
        rows = oracle.lrange(EVENTS, start, start + step - 1)
        for row in rows:
            doc = orjson.loads(row)
            events.append(Event(doc["e"], doc["ref"], doc["id"], doc["pid"], doc["attempt"], doc["token"], doc["t"],
                                doc.get("claimed")))  # fmt: skip
        if len(rows) < step:
            return events
        start += step


async def final_records(client: Client, queue: str, ids: Iterable[str]) -> dict[str, Task]:
    """The stored record of each id (missing ids are left out)."""
    wanted = sorted(set(ids))
    found: dict[str, Task] = {}
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        for task_id, record in zip(chunk, await client.get_many(queue, chunk), strict=True):
            if record is not None:
                found[task_id] = record
    return found


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of `values`, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def spread(values: Sequence[float]) -> dict[str, Any]:
    """count, p50, p99 and max of a list of durations (seconds), rounded for the report."""

    def rounded(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    return {"count": len(values), "p50": rounded(percentile(values, 50)), "p99": rounded(percentile(values, 99)),
            "max": rounded(max(values, default=None))}  # fmt: skip


@dataclass
class Accounting:
    """The counts of one run."""

    invoked: int
    acknowledged: int
    failed: int
    indeterminate: int
    executed: int
    succeeded: int
    records_expired: int
    vanished: list[str]  # finished, record gone before retention could delete it
    lost: list[str]
    unexpected: list[str]
    recovered: int
    executions: int
    extra_executions: int
    duplicated_refs: int
    duplicate_enqueues: list[str]
    dead: list[str]
    not_final: list[str]
    final_states: dict[str, int]
    succeeded_without_finish: list[str]
    starts: dict[str, list[Event]]
    finishes: dict[str, list[Event]]
    records: dict[str, Task]
    ids_of: dict[str, set[str]]

    def summary(self) -> dict[str, Any]:
        """The counts, with at most 10 example refs of each problem."""
        out: dict[str, Any] = {}
        for name, value in vars(self).items():
            if name in ("starts", "finishes", "records", "ids_of"):
                continue
            if isinstance(value, list):
                out[name] = len(value)
                if value:
                    out[f"{name}_examples"] = sorted(value)[:10]
            else:
                out[name] = value
        return out


async def account(
    ledger: Ledger,
    events: list[Event],
    client: Client,
    queue: str = "default",
    retention: float = RetentionSettings().finished,
) -> Accounting:
    """Compare what was acknowledged with what ran and what Redis recorded.

    `retention` is the run's `RETENTION_FINISHED` in seconds: records of tasks finished longer ago
    than that may have been deleted on purpose.
    """
    starts: dict[str, list[Event]] = defaultdict(list)
    finishes: dict[str, list[Event]] = defaultdict(list)
    ids_of: dict[str, set[str]] = defaultdict(set)
    for event in events:
        (starts if event.kind == "start" else finishes)[event.ref].append(event)
        ids_of[event.ref].add(event.id)
    for ref, submission in ledger.submissions.items():
        ids_of[ref] |= submission.ids
    records = await final_records(client, queue, (i for ids in ids_of.values() for i in ids))
    succeeded = {ref for ref, ids in ids_of.items() if any(
        records.get(i) is not None and records[i].state is TaskState.SUCCEEDED for i in ids)}  # fmt: skip
    # A finished task whose record is gone was succeeded and then deleted by retention (dead
    # records are kept far longer than any run), so it counts as succeeded, but only once
    # retention had time to act: a record gone sooner was dropped by a crash or failover.
    gone = {ref for ref, ids in ids_of.items() if finishes.get(ref) and not any(i in records for i in ids)}
    deletable_before_ms = time.time() * 1000 - retention * 1000
    expired = {ref for ref in gone if max(e.t for e in finishes[ref]) <= deletable_before_ms}
    succeeded |= expired
    refused = {r for r, s in ledger.submissions.items() if s.outcome == "fail"}
    acked = ledger.acknowledged()
    indeterminate = {r for r, s in ledger.submissions.items() if s.outcome == "indeterminate"}
    return Accounting(
        invoked=len(ledger.submissions),
        acknowledged=len(acked),
        failed=ledger.count("fail"),
        indeterminate=len(indeterminate),
        executed=len(finishes),
        succeeded=len(succeeded),
        records_expired=len(expired),
        lost=sorted(r for r in acked if not (finishes.get(r) and r in succeeded)),
        unexpected=sorted(r for r in starts.keys() | finishes.keys() if r not in ledger.submissions or r in refused),
        vanished=sorted(gone - expired),
        recovered=len(indeterminate & set(finishes)),
        executions=sum(len(v) for v in starts.values()),
        extra_executions=sum(len(v) - 1 for v in starts.values()),
        duplicated_refs=sum(1 for v in starts.values() if len(v) > 1),
        duplicate_enqueues=sorted(r for r, ids in ids_of.items() if len(ids) > 1),
        dead=sorted(i for i, r in records.items() if r.state is TaskState.DEAD),
        not_final=sorted(i for i, r in records.items() if r.state not in FINAL),
        final_states=dict(Counter(r.state.value for r in records.values())),
        succeeded_without_finish=sorted(r for r in succeeded if not finishes.get(r)),
        starts=dict(starts),
        finishes=dict(finishes),
        records=records,
        ids_of=dict(ids_of),
    )


# One atomic read of the task structures; read-only, so Redis runs it even when memory is full.
# KEYS: state, spec, run columns, the queued counts, then the sorted sets; ARGV: the queued lists.
SNAPSHOT = """#!lua flags=no-writes,allow-oom
local out = {redis.call('HGETALL', KEYS[1]), redis.call('HKEYS', KEYS[2]), redis.call('HKEYS', KEYS[3]),
             redis.call('HGETALL', KEYS[4])}
for i = 5, #KEYS do out[#out + 1] = redis.call('ZRANGE', KEYS[i], 0, -1) end
local entries = {}
for _, list in ipairs(ARGV) do
  for _, entry in ipairs(redis.call('LRANGE', list, 0, -1)) do entries[#entries + 1] = entry end
end
out[#out + 1] = entries
return out
"""


async def consistency(client: Client, queue: str = "default") -> list[str]:
    """Problems with the stored structures: every task in exactly the set its state names (a
    queued task, with no state field, in a queued list), the queued counts equal to the queued
    tasks, a run record (attempt, claim time, lease token) for every active task, no state
    without a record."""
    keys = client.store.keys(queue)
    sets = {"scheduled": keys.scheduled, "retrying": keys.retrying, "active": keys.active,
            "succeeded": keys.succeeded, "cancelled": keys.cancelled, "dead": keys.dead}  # fmt: skip
    names = [keys.column("state"), keys.column("spec"), keys.column("run"), keys.queued, *sets.values()]
    lists = [keys.queued_list(level) for level in PRIORITY_LEVELS]
    replies = await client.store.redis.eval(SNAPSHOT, len(names), *names, *lists)  # type: ignore[misc]
    flat, counted = replies[0], replies[3]
    records = {k.decode() for k in replies[1]}
    states = {task_id: "queued" for task_id in records}
    states.update({flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)})
    runs = {k.decode() for k in replies[2]}
    members = {state: {m.decode() for m in reply} for state, reply in zip(sets, replies[4:-1], strict=True)}
    members["queued"] = {queued.parse(e.decode())[0] for e in replies[-1]} & {
        task_id for task_id, state in states.items() if state == "queued"
    }  # stale entries (tasks in other states, or gone) are allowed: claims pass them
    problems = []
    if records != set(states):
        problems.append(f"{len(set(states) - records)} ids have a state but no record")
    for task_id, state in states.items():
        homes = [s for s, m in members.items() if task_id in m]
        if homes != [state]:
            problems.append(f"{task_id}: state {state} but in sets {homes}")
        if state == "active" and task_id not in runs:
            problems.append(f"{task_id}: active without a run record (attempt, lease token)")
    counts = sum(int(counted[i + 1]) for i in range(0, len(counted), 2))
    if counts != len(members["queued"]):
        problems.append(f"the queued counts say {counts}, {len(members['queued'])} tasks are queued")
    strays = set().union(*(m for s, m in members.items() if s != "queued")) - set(states)
    if strays:
        problems.append(f"{len(strays)} set members without a record, e.g. {sorted(strays)[:3]}")
    return problems[:50]


@dataclass
class Verdict:
    """The JSON document a run leaves behind, and the checks that decide it."""

    scenario: str
    form: str
    facts: dict[str, Any] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def check(self, name: str, ok: bool, observed: Any, bound: Any) -> None:
        self.checks.append({"check": name, "ok": bool(ok), "observed": observed, "bound": bound})

    @property
    def passed(self) -> bool:
        return all(c["ok"] for c in self.checks)

    def failures(self) -> list[str]:
        return [f"{c['check']}: observed {c['observed']}, bound {c['bound']}" for c in self.checks if not c["ok"]]

    def write(self, directory: Path | None = None) -> Path:
        directory = directory or verdict_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.scenario}-{self.form}.json"
        doc = {"scenario": self.scenario, "form": self.form, "passed": self.passed,
               "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
               "duration_s": round(time.time() - self.started, 1), "checks": self.checks, **self.facts}  # fmt: skip
        path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))
        return path

    def settle(self, directory: Path | None = None) -> None:
        """Write the verdict, then fail the test with every failed check."""
        path = self.write(directory)
        assert self.passed, f"{self.scenario} ({self.form}) failed; verdict in {path}:\n  " + "\n  ".join(
            self.failures()
        )


def verdict_dir() -> Path:
    """Where verdicts go: $CHAOS_VERDICTS, else tests/chaos/verdicts (git-ignored)."""
    import os

    return Path(os.environ.get("CHAOS_VERDICTS") or ROOT / "verdicts")
