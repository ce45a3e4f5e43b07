"""The scaling rules: one pure function from (spec, what was observed, now) to a decision.

The rules follow KEDA's Redis scaler with the HPA's default behaviour, plus what dtq knows
that a list length does not tell:

* demand = ready tasks (+ tasks being run, with `countActive`); a replica takes
  `backlogPerReplica` of it: recommendation = ceil(demand / backlogPerReplica), within
  [minReplicas, maxReplicas].
* A pool at zero wakes only when demand is above `activationBacklog` (or a task waited past
  `maxOldestAge`). Once awake, any waiting or running task keeps at least one replica.
* Scaling up happens at once. Scaling down goes no lower than the highest recommendation of the
  last `scaleDownStabilization` seconds (the HPA's rule), so a load that comes and goes does
  not make replicas flap.
* To zero only when `minReplicas` is 0 and nothing was ready or active for `cooldown` seconds;
  like KEDA's 1 -> 0 step, this does not wait for the stabilization window as well.
* A ready task older than `maxOldestAge` forces at least one replica more than now.
* Nothing is ever scaled when the spec is unusable or when Redis or the Deployment could not be
  read: the decision holds, and says why in the conditions.

The function is idempotent: the same inputs give the same decision, and applying a decision's
memory and replica count before calling again with the same load and time changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from dtq_operator.model import Condition, Decision, Load, Memory, Observed, ReadError, Recommendations, Spec

# A memory older than this many poll intervals was written before a gap in observation
# (operator down, Redis down): work may have come and gone unseen, so its idle spell restarts.
STALE_POLLS = 3


def reconcile(spec: Spec, observed: Observed, now: float) -> Decision:
    """Decide how many replicas the target Deployment should have at time `now` (seconds)."""
    problems = spec.problems()
    load, current, memory = observed.load, observed.replicas, observed.memory
    redis = _redis_condition(load)
    if problems:
        return _hold(observed, "InvalidSpec", "spec is not usable: " + "; ".join(problems), redis)
    if load is None or isinstance(load, ReadError):
        cause = "not read" if load is None else load.message
        message = f"holding the replica count: cannot read the queues ({cause})"
        return _hold(observed, "RedisUnavailable" if load is None else load.reason, message, redis)
    if current is None or isinstance(current, ReadError):
        cause = "not read" if current is None else current.message
        message = f"holding: cannot read the scale of Deployment {spec.target} ({cause})"
        return _hold(observed, "ScaleUnreadable" if current is None else current.reason, message, redis, load=load)
    decision = _decide(spec, load, current, _fresh(memory, spec, now), now)
    return replace(decision, conditions=(redis, *decision.conditions))


def _decide(spec: Spec, load: Load, current: int, memory: Memory, now: float) -> Decision:
    idle_since = None if load.busy else (memory.idle_since if memory.idle_since is not None else now)
    rec = _recommend(spec, load, current, idle_since, now)
    history = memory.with_recommendation(now, rec.want, spec.scale_down_stabilization)
    replicas, why = _stabilize(spec, current, rec, history)
    verdict = _verdict(current, replicas, rec)
    return Decision(
        replicas=replicas,
        current=current,
        verdict=verdict,
        reason=why,
        memory=Memory(recommendations=history, idle_since=idle_since, observed_at=now),
        conditions=(Condition("Scaling", "True", verdict, why),),
        load=load,
        recommended=rec.want,
    )


@dataclass(frozen=True, slots=True)
class _Recommendation:
    want: int  #: replicas this look asks for, within [minReplicas, maxReplicas]
    why: str
    verdict: str = ""  #: set when the situation has a name of its own (Asleep, CoolingDown, ...)
    to_zero: bool = False  #: the cooldown is over: go to zero without waiting for the window


def _recommend(spec: Spec, load: Load, current: int, idle_since: float | None, now: float) -> _Recommendation:
    demand = load.ready + (load.active if spec.count_active else 0)
    want = math.ceil(demand / spec.backlog_per_replica)
    why = _describe_demand(spec, load, demand, want)
    overdue = spec.max_oldest_age is not None and load.ready > 0 and load.oldest_age > spec.max_oldest_age
    if overdue and want <= current:
        want = current + 1
        why = f"the oldest ready task waited {load.oldest_age:.0f}s, over maxOldestAge {spec.max_oldest_age}s: one more"
    if current == 0 and spec.min_replicas == 0 and not overdue:
        if demand <= spec.activation_backlog:
            why = f"staying at zero: demand {demand} is not above activationBacklog {spec.activation_backlog}"
            why += _paused_note(load)
            return _Recommendation(0, why, "Asleep")
        why = f"waking up: {why}"
    if want == 0 and load.busy:
        want = 1
        why += "; tasks being run keep one replica"
    elif want == 0 and spec.min_replicas == 0 and current > 0:
        return _cooldown(spec, idle_since, now)
    bounded = min(max(want, spec.min_replicas), spec.max_replicas)
    if bounded > want:
        why += f", raised to minReplicas {bounded}"
    elif bounded < want:
        why += f", capped at maxReplicas {bounded}"
    return _Recommendation(bounded, why)


def _cooldown(spec: Spec, idle_since: float | None, now: float) -> _Recommendation:
    idle = now - (idle_since if idle_since is not None else now)
    if idle >= spec.cooldown:
        return _Recommendation(0, f"nothing ready or active for {idle:.0f}s (cooldown {spec.cooldown}s)", to_zero=True)
    why = f"nothing to do; keeping one replica: idle for {idle:.0f}s of the {spec.cooldown}s cooldown"
    return _Recommendation(1, why, "CoolingDown")


def _stabilize(spec: Spec, current: int, rec: _Recommendation, history: Recommendations) -> tuple[int, str]:
    """Up at once; down no lower than the highest recommendation inside the window."""
    if rec.to_zero:
        return 0, rec.why
    highest = max(value for _, value in history)
    replicas = min(max(current, rec.want), highest)
    replicas = min(max(replicas, spec.min_replicas), spec.max_replicas)
    if replicas > rec.want:
        window = spec.scale_down_stabilization
        return replicas, f"{rec.why}; not below {replicas}, the highest recommendation of the last {window}s"
    return replicas, rec.why


def _verdict(current: int, replicas: int, rec: _Recommendation) -> str:
    if replicas > current:
        return "ScaledUp"
    if replicas < current:
        return "ScaledToZero" if replicas == 0 else "ScaledDown"
    if rec.verdict:
        return rec.verdict
    return "Stabilizing" if replicas > rec.want else "Steady"


def _fresh(memory: Memory, spec: Spec, now: float) -> Memory:
    """The memory, with its idle spell restarted if it comes from before a gap in observation."""
    if memory.observed_at is None or now - memory.observed_at > STALE_POLLS * spec.poll_interval:
        return Memory(recommendations=memory.recommendations, idle_since=None, observed_at=memory.observed_at)
    return memory


def _describe_demand(spec: Spec, load: Load, demand: int, want: int) -> str:
    parts = [f"{load.ready} ready"]
    if spec.count_active:
        parts.append(f"{load.active} active")
    text = f"{demand} tasks ({' + '.join(parts)}) at {spec.backlog_per_replica} per replica make {want}"
    return text + _paused_note(load)


def _paused_note(load: Load) -> str:
    return f" ({load.paused} in paused queues not counted)" if load.paused else ""


def _redis_condition(load: Load | ReadError | None) -> Condition:
    if load is None:
        return Condition("RedisReachable", "Unknown", "NotRead", "the queues were not read")
    if isinstance(load, ReadError):
        return Condition("RedisReachable", "False", load.reason, load.message)
    return Condition("RedisReachable", "True", "QueuesRead", "the queues were read")


def _hold(observed: Observed, verdict: str, reason: str, redis: Condition, load: Load | None = None) -> Decision:
    current = observed.replicas if isinstance(observed.replicas, int) else None
    return Decision(
        replicas=None,
        current=current,
        verdict=verdict,
        reason=reason,
        memory=observed.memory,
        conditions=(redis, Condition("Scaling", "False", verdict, reason)),
        load=load,
    )
