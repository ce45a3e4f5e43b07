"""The custom resource's status: written from a decision, and read back as the operator's memory.

Pure functions: they take the previous status and the time, and return plain dicts for a
JSON merge patch of the `status` subresource.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from dtq_operator.model import Condition, Decision, Memory, Spec


def timestamp(seconds: float, *, precise: bool = False) -> str:
    """RFC 3339 in UTC; `precise` keeps milliseconds (for the memory, which short windows need)."""
    moment = datetime.fromtimestamp(seconds, UTC)
    if precise:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: object) -> float | None:
    """Seconds since the epoch from an RFC 3339 string; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def memory_from_status(status: Mapping[str, Any] | None) -> Memory:
    """The memory a previous reconcile stored; anything unreadable is forgotten, never trusted."""
    status = status or {}
    recommendations: list[tuple[float, int]] = []
    raw = status.get("recommendations")
    for item in raw if isinstance(raw, list) else []:
        when = parse_timestamp(item.get("time")) if isinstance(item, Mapping) else None
        replicas = item.get("replicas") if isinstance(item, Mapping) else None
        if when is not None and isinstance(replicas, int) and not isinstance(replicas, bool) and replicas >= 0:
            recommendations.append((when, replicas))
    recommendations.sort()
    return Memory(
        recommendations=tuple(recommendations),
        idle_since=parse_timestamp(status.get("idleSince")),
        observed_at=parse_timestamp(status.get("observedTime")),
    )


def newest(*memories: Memory | None) -> Memory:
    """The most recent of several copies of the memory (process memory vs. status)."""
    known = [m for m in memories if m is not None]
    if not known:
        return Memory()
    return max(known, key=lambda m: m.observed_at if m.observed_at is not None else float("-inf"))


def memory_to_status(memory: Memory) -> dict[str, Any]:
    """The status fields that carry `memory` (a None value deletes the field in a merge patch)."""
    return {
        "recommendations": [{"time": timestamp(t, precise=True), "replicas": r} for t, r in memory.recommendations],
        "idleSince": None if memory.idle_since is None else timestamp(memory.idle_since, precise=True),
        "observedTime": None if memory.observed_at is None else timestamp(memory.observed_at, precise=True),
    }


def _by_type(conditions: object) -> dict[str, Mapping[str, Any]]:
    if not isinstance(conditions, list):
        return {}
    return {c["type"]: c for c in conditions if isinstance(c, Mapping) and isinstance(c.get("type"), str)}


def merge_conditions(previous: object, new: Iterable[Condition], now: float) -> list[dict[str, Any]]:
    """The condition list with `new` applied; a transition time moves only when a status changes."""
    by_type = _by_type(previous)
    merged: list[dict[str, Any]] = []
    for condition in new:
        old = by_type.pop(condition.type, {})
        moved = old.get("status") != condition.status or not old.get("lastTransitionTime")
        merged.append({
            "type": condition.type,
            "status": condition.status,
            "reason": condition.reason,
            "message": condition.message,
            "lastTransitionTime": timestamp(now) if moved else old["lastTransitionTime"],
        })  # fmt: skip
    merged.extend(dict(c) for c in by_type.values())
    return merged


def transitions(previous: object, new: Iterable[Condition]) -> list[Condition]:
    """The conditions of `new` whose status differs from the previous status (or that are new)."""
    before = _by_type(previous)
    return [c for c in new if before.get(c.type, {}).get("status") != c.status]


def status_patch(
    spec: Spec,
    decision: Decision,
    previous: Mapping[str, Any] | None,
    *,
    now: float,
    generation: int | None,
    applied: bool,
) -> dict[str, Any]:
    """The merge patch of the status after `decision` (`applied`: the scale patch went through)."""
    previous = previous or {}
    patch: dict[str, Any] = {
        "queueList": ",".join(spec.queues),
        "conditions": merge_conditions(previous.get("conditions"), decision.conditions, now),
        **memory_to_status(decision.memory),
    }
    if generation is not None:
        patch["observedGeneration"] = generation
    if decision.load is not None:
        patch.update(
            backlog=decision.load.ready,
            active=decision.load.active,
            oldestAge=round(decision.load.oldest_age, 1),
            pausedBacklog=decision.load.paused,
        )
    if decision.replicas is not None:
        patch["desiredReplicas"] = decision.replicas
    current = decision.replicas if applied and decision.replicas is not None else decision.current
    if current is not None:
        patch["currentReplicas"] = current
    if applied and decision.scales:
        patch["lastScaleTime"] = timestamp(now)
        patch["lastScaleReason"] = decision.reason
    return patch
