"""What the operator reads and decides, as plain values: no Kubernetes, no Redis, no clock.

A `WorkerAutoscaler`'s `spec` becomes a `Spec`; one look at Redis and at the Deployment's
`scale` becomes an `Observed` (either part may be a `ReadError`); the small state the scaling
rules need between looks (recommendations inside the stabilization window, the start of the
current idle spell) is a `Memory`, stored in the resource's status so a restart keeps it.
`reconcile()` turns these into a `Decision`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dtq.store.calls import QueueCounts

GROUP = "dtq.dev"
VERSION = "v1"
PLURAL = "workerautoscalers"
KIND = "WorkerAutoscaler"

ConditionStatus = Literal["True", "False", "Unknown"]
Recommendations = tuple[tuple[float, int], ...]  #: (time, replicas) pairs, oldest first

# Spec field name -> (default, smallest allowed value). `targetDeployment` and `queues` have no default.
_INT_FIELDS: dict[str, tuple[int | None, int]] = {
    "backlogPerReplica": (100, 1),
    "minReplicas": (0, 0),
    "maxReplicas": (10, 1),
    "activationBacklog": (0, 0),
    "pollInterval": (5, 1),
    "scaleDownStabilization": (300, 0),
    "cooldown": (300, 0),
    "maxOldestAge": (None, 1),
}


@dataclass(frozen=True, slots=True)
class Spec:
    """A `WorkerAutoscaler`'s spec with the CRD's defaults applied; `problems` lists what is wrong."""

    target: str
    queues: tuple[str, ...]
    backlog_per_replica: int = 100
    min_replicas: int = 0
    max_replicas: int = 10
    activation_backlog: int = 0
    poll_interval: int = 5
    scale_down_stabilization: int = 300
    cooldown: int = 300
    count_active: bool = True
    max_oldest_age: int | None = None
    invalid: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Spec:
        """Read a spec mapping; bad fields keep their default and are named in `invalid`."""
        problems: list[str] = []
        target = raw.get("targetDeployment")
        if not isinstance(target, str) or not target:
            problems.append("targetDeployment must be a Deployment name")
            target = ""
        queues = raw.get("queues")
        if not isinstance(queues, list) or not queues or not all(isinstance(q, str) and q for q in queues):
            problems.append("queues must be a non-empty list of queue names")
            queues = []
        numbers: dict[str, int | None] = {}
        for name, (default, least) in _INT_FIELDS.items():
            value = raw.get(name, default)
            if value is None and default is None:
                numbers[name] = None
            elif isinstance(value, bool) or not isinstance(value, int) or value < least:
                problems.append(f"{name} must be an integer of at least {least}")
                numbers[name] = default
            else:
                numbers[name] = value
        count_active = raw.get("countActive", True)
        if not isinstance(count_active, bool):
            problems.append("countActive must be true or false")
            count_active = True
        return cls(
            target=target,
            queues=tuple(queues),
            backlog_per_replica=_int(numbers["backlogPerReplica"]),
            min_replicas=_int(numbers["minReplicas"]),
            max_replicas=_int(numbers["maxReplicas"]),
            activation_backlog=_int(numbers["activationBacklog"]),
            poll_interval=_int(numbers["pollInterval"]),
            scale_down_stabilization=_int(numbers["scaleDownStabilization"]),
            cooldown=_int(numbers["cooldown"]),
            count_active=count_active,
            max_oldest_age=numbers["maxOldestAge"],
            invalid=tuple(problems),
        )

    def problems(self) -> list[str]:
        """Everything that stops this spec from being acted on (empty when it is usable)."""
        found = list(self.invalid)
        if self.max_replicas < self.min_replicas:
            found.append(f"maxReplicas ({self.max_replicas}) is below minReplicas ({self.min_replicas})")
        return found


def _int(value: int | None) -> int:
    assert value is not None  # every field but maxOldestAge has a default
    return value


@dataclass(frozen=True, slots=True)
class ReadError:
    """A read that failed; `reason` is a CamelCase word for conditions, `message` says what happened."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Load:
    """The work waiting for and held by the workers of all watched queues, summed."""

    ready: int = 0  #: ready tasks in queues that are not paused
    active: int = 0  #: tasks leased by a worker right now
    oldest_age: float = 0.0  #: seconds the oldest ready task (of a queue not paused) has waited
    paused: int = 0  #: ready tasks in paused queues: no worker may take them, so they do not count

    @classmethod
    def from_counts(cls, counts: Iterable[QueueCounts]) -> Load:
        """Sum the counts of several queues."""
        ready = active = paused = 0
        oldest = 0.0
        for c in counts:
            active += c.active
            if c.paused:
                paused += c.ready
            else:
                ready += c.ready
                oldest = max(oldest, c.oldest_ready_age)
        return cls(ready=ready, active=active, oldest_age=oldest, paused=paused)

    @property
    def busy(self) -> bool:
        """Something is waiting that a worker could take, or being worked on."""
        return self.ready + self.active > 0


@dataclass(frozen=True, slots=True)
class Memory:
    """State carried from one reconcile to the next (in the status, and in process memory).

    `recommendations` are (time, replicas) pairs, oldest first, with strictly falling replicas:
    an older entry that is not above a newer one can never be the highest inside the window,
    so it is dropped, which keeps the list short (at most maxReplicas + 1 entries).
    """

    recommendations: Recommendations = ()
    idle_since: float | None = None  #: start of the current spell with nothing ready or active
    observed_at: float | None = None  #: when the load was last read successfully

    def with_recommendation(self, now: float, replicas: int, window: float) -> Recommendations:
        """The recommendations of the last `window` seconds plus (now, replicas), compacted."""
        kept: list[tuple[float, int]] = []

        def push(when: float, value: int) -> None:
            while kept and kept[-1][1] <= value:
                kept.pop()
            kept.append((when, value))

        for stamp, value in self.recommendations:
            when = min(stamp, now)  # a clock that jumped back must not keep an entry forever
            if when > now - window:  # like the HPA: an entry exactly `window` old has expired
                push(when, value)
        push(now, replicas)
        return tuple(kept)


@dataclass(frozen=True, slots=True)
class Observed:
    """One look at the world: the queues' load and the Deployment's replicas, plus carried memory.

    None means not read at all (the spec did not say what to read).
    """

    load: Load | ReadError | None
    replicas: int | ReadError | None
    memory: Memory = field(default_factory=Memory)


@dataclass(frozen=True, slots=True)
class Condition:
    """A status condition as Kubernetes shows it (without its transition time, added on writing)."""

    type: str
    status: ConditionStatus
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do now, and why.

    `replicas` is the count to set, or None to leave the Deployment alone (holding on a read
    error or an invalid spec). `verdict` is a CamelCase summary (the `Scaling` condition's
    reason); `reason` is the sentence that goes to the log, the event and the status.
    """

    replicas: int | None
    current: int | None
    verdict: str
    reason: str
    memory: Memory
    conditions: tuple[Condition, ...]
    load: Load | None = None
    recommended: int | None = None  #: this look's recommendation before stabilization

    @property
    def scales(self) -> bool:
        """The Deployment's replica count changes."""
        return self.replicas is not None and self.current is not None and self.replicas != self.current

    def condition(self, kind: str) -> Condition | None:
        """The condition of type `kind`, if this decision sets it."""
        return next((c for c in self.conditions if c.type == kind), None)
