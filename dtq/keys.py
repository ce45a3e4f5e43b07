"""Every Redis key and channel name dtq uses, built in this one module.

All keys of one queue share the hash tag `{<queue>}` so a queue lives in one Redis Cluster slot
and every script touches a single slot. Global keys (queue index, worker registry) carry the tag
`{@}`, which no queue name can produce, and no script touches them together with queue keys.

Task data is stored column-wise: one hash per field (`t:state`, `t:attempts`, ...) keyed by task
id, so a transition of a whole batch is a handful of multi-field commands instead of several
commands per task. The full schema, with types and what scores mean, is `docs/keys.md`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from dtq.errors import InvalidQueueName

# The queue-name rule, once: the API's schemas, the chart's values schema and the operator's CRD
# use these patterns (tests/unit/test_formats.py checks the chart's and the CRD's copies).
QUEUE_NAME_RULE = r"[A-Za-z0-9_.-]{1,64}"
SHARD_SUFFIX_RULE = r"(~[0-9]{1,3})?"  # `~<n>`: one shard of a sharded queue (see dtq.shards)
QUEUE_PATTERN = rf"^{QUEUE_NAME_RULE}$"  # a queue a producer names
SHARD_PATTERN = rf"^{QUEUE_NAME_RULE}{SHARD_SUFFIX_RULE}$"  # a queue as stored: also one shard
QUEUE_NAME = re.compile(QUEUE_NAME_RULE + SHARD_SUFFIX_RULE)
# Names the rule's characters allow but a URL path cannot carry: the dashboard's relative links
# to /queues/<name> would resolve `.` and `..` to another page. (The chart's and the CRD's
# copies of the rule do not know this yet; a worker refuses such a queue when it starts.)
DOT_SEGMENTS = frozenset({".", ".."})

# Columns of the task table: the name dtq's code uses -> the key suffix in Redis, in the order
# the read scripts return them. `spec` is the stored record of what to run (a dtq.task.TaskSpec,
# whose `task` is its handler's name); it keeps the suffix `t:task` it had before the two names
# were told apart, so tasks already stored still read. `run` packs what each claim writes
# ("attempt|started ms|lease token", dtq.runs) so a claim is one field write, not four. A
# queued task has no `state` field (include/queued.lua), and its priority is in its record.
COLUMN_SUFFIXES = {
    "spec": "task",
    "state": "state",
    "run": "run",
    "due": "due",
    "result": "result",
    "error": "error",
    "cancel": "cancel",
}
COLUMNS = tuple(COLUMN_SUFFIXES)


def check_queue_name(name: str) -> str:
    """Return `name` if it is a valid queue name, else raise `InvalidQueueName`."""
    if name in _GOOD_QUEUES:
        return name
    if not isinstance(name, str) or not QUEUE_NAME.fullmatch(name) or name in DOT_SEGMENTS:
        raise InvalidQueueName(
            f"queue name {name!r} must be 1-64 characters of A-Z a-z 0-9 _ . - (then ~<n> for a shard), and not . or .."
        )
    if len(_GOOD_QUEUES) < 10_000:
        _GOOD_QUEUES.add(name)
    return name


_GOOD_QUEUES: set[str] = set()


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The keys and channels of one queue."""

    name: str
    base: str

    @property
    def queued(self) -> str:
        """hash: priority level -> how many queued tasks it has; beside it, one list per level."""
        return self.base + "queued"

    def queued_list(self, level: int) -> str:
        """list: the queued tasks of one priority level, next first; entries "<id>@<ready ms, base 36>"
        (include/queued.lua names them from `queued` the same way)."""
        return f"{self.base}queued:{level}"

    @property
    def legacy_ready(self) -> str:
        """zset: where queued tasks were by dtq 0.1 (score (9 - priority) * 2^42 + ready ms); a
        scheduler moves them to the queued lists at start (upgrade_ready.lua)."""
        return self.base + "ready"

    @property
    def legacy_prio(self) -> str:
        """hash: id -> priority, a column by dtq 0.1; deleted once `legacy_ready` is empty."""
        return self.base + "t:prio"

    @property
    def scheduled(self) -> str:
        """zset: ids waiting for their time; score = due ms."""
        return self.base + "scheduled"

    @property
    def retrying(self) -> str:
        """zset: failed ids waiting for their retry; score = due ms."""
        return self.base + "retrying"

    @property
    def active(self) -> str:
        """zset: claimed ids; score = lease expiry ms."""
        return self.base + "active"

    @property
    def succeeded(self) -> str:
        """zset: succeeded ids; score = ms it succeeded (the record is deleted a retention later)."""
        return self.base + "succeeded"

    @property
    def cancelled(self) -> str:
        """zset: cancelled ids; score = ms it was cancelled (the record is deleted a retention later)."""
        return self.base + "cancelled"

    @property
    def dead(self) -> str:
        """zset: dead-lettered ids; score = ms it died."""
        return self.base + "dead"

    @property
    def unrunnable(self) -> str:
        """zset: the dead ids that never ran (no handler, undecodable); score = ms it died. A
        subset of `dead`, capped on its own (DTQ_RETENTION_DEAD_UNRUNNABLE_MAX)."""
        return self.base + "dead:unrunnable"

    @property
    def paused(self) -> str:
        """string: present while the queue is paused."""
        return self.base + "paused"

    @property
    def retired(self) -> str:
        """string: present after a scheduler took the (empty) queue out of the index, until the
        next enqueue, which removes it and puts the queue back (retire.lua, enqueue.lua)."""
        return self.base + "retired"

    @property
    def parked(self) -> str:
        """hash: lease token -> "<expiry ms>:<free slots>:<lease ms>" of a worker waiting for tasks,
        which an enqueue leases its tasks to at once (include/lease.lua)."""
        return self.base + "parked"

    @property
    def idempotency(self) -> str:
        """hash: idempotency key -> task id."""
        return self.base + "idem"

    @property
    def idempotency_expiry(self) -> str:
        """zset: idempotency key; score = ms it expires."""
        return self.base + "idem:exp"

    @property
    def claim_prefix(self) -> str:
        """Prefix of `claim:<lease token>`: string "id@ready ms,..." of one claim, kept until answered."""
        return self.base + "claim:"

    @property
    def totals(self) -> str:
        """hash: `<event>|<task name>` -> count since the queue was created."""
        return self.base + "totals"

    @property
    def activity(self) -> str:
        """hash: "<minute>:<event>" -> count (minute = ms // 60000); old minutes are trimmed."""
        return self.base + "activity"

    def histogram(self, name: str) -> str:
        """hash: bucket upper bound (or `sum`, `count`) -> observations of a latency histogram."""
        return f"{self.base}histogram:{name}"

    def column(self, name: str) -> str:
        """hash: one column of the task table (a name of COLUMNS), keyed by task id."""
        return f"{self.base}t:{COLUMN_SUFFIXES[name]}"

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column key, in `COLUMNS` order."""
        return tuple(self.column(c) for c in COLUMNS)

    @property
    def worker_channel(self) -> str:
        """Pub/sub channel telling workers about ready tasks and cancel requests."""
        return self.base + "to-workers"

    @property
    def inbox_prefix(self) -> str:
        """What a worker's own channel (`GlobalKeys.inbox`) starts with, for scripts to finish."""
        return GlobalKeys(self.base[: -len(self.name) - 4]).inbox_prefix

    @property
    def scheduler_channel(self) -> str:
        """Pub/sub channel telling schedulers that something became due earlier."""
        return self.base + "to-scheduler"


@dataclass(frozen=True, slots=True)
class GlobalKeys:
    """Keys that belong to no queue; they share the `{@}` slot."""

    prefix: str

    @property
    def queues(self) -> str:
        """set: names of every queue that was ever enqueued to."""
        return f"{self.prefix}:{{@}}:queues"

    @property
    def workers(self) -> str:
        """zset: live worker ids; score = ms of the last heartbeat."""
        return f"{self.prefix}:{{@}}:workers"

    def worker(self, worker_id: str) -> str:
        """hash: one worker's heartbeat fields; expires when heartbeats stop."""
        return f"{self.prefix}:{{@}}:worker:{worker_id}"

    @property
    def inbox_prefix(self) -> str:
        """Prefix of `to-worker:<worker id>`, the channel on which one worker is handed tasks."""
        return f"{self.prefix}:{{@}}:to-worker:"

    def inbox(self, worker_id: str) -> str:
        """Pub/sub channel handing one worker the tasks an enqueue leased to it."""
        return self.inbox_prefix + worker_id

    @property
    def embedded(self) -> str:
        """string: present in the in-memory Redis `dtq dev` serves, which has no eviction policy to read."""
        return f"{self.prefix}:{{@}}:embedded"

    def rate(self, subject: str) -> str:
        """string: a rate limit's state (take_permit.lua). Not in the `{@}` slot: one slot per
        subject, so busy tokens spread over a cluster."""
        return f"{self.prefix}:rate:{subject}"

    @property
    def scheduler_pattern(self) -> str:
        """Pattern matching every queue's scheduler channel."""
        return f"{self.prefix}:{{*}}:to-scheduler"


@lru_cache(maxsize=4096)
def queue_keys(prefix: str, queue: str) -> QueueKeys:
    """The keys of `queue` under `prefix` (validated, cached)."""
    check_queue_name(queue)
    return QueueKeys(name=queue, base=f"{prefix}:{{{queue}}}:")


def queue_of_channel(prefix: str, channel: str) -> str | None:
    """The queue name inside a queue channel name, or None for anything else."""
    head = prefix + ":{"
    if not channel.startswith(head):
        return None
    end = channel.find("}:", len(head))
    return channel[len(head) : end] if end > 0 else None
