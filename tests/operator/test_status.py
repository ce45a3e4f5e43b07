"""The status the operator writes, and the memory it reads back from it."""

from __future__ import annotations

from dtq_operator.model import Condition, Decision, Load, Memory, Spec
from dtq_operator.status import (
    memory_from_status,
    memory_to_status,
    merge_conditions,
    newest,
    parse_timestamp,
    status_patch,
    timestamp,
    transitions,
)

T0 = 1_700_000_000.0
SPEC = Spec(target="workers", queues=("emails", "reports"))


def decision(**fields: object) -> Decision:
    base: dict[str, object] = {
        "replicas": 3, "current": 1, "verdict": "ScaledUp", "reason": "250 tasks make 3",
        "memory": Memory(recommendations=((T0, 3),), observed_at=T0),
        "conditions": (Condition("RedisReachable", "True", "QueuesRead", "ok"),
                       Condition("Scaling", "True", "ScaledUp", "250 tasks make 3")),
        "load": Load(ready=240, active=10, oldest_age=12.345, paused=7), "recommended": 3,
    }  # fmt: skip
    base.update(fields)
    return Decision(**base)  # type: ignore[arg-type]


def test_timestamps_are_rfc3339_utc() -> None:
    assert timestamp(T0) == "2023-11-14T22:13:20Z"
    assert timestamp(T0 + 0.25, precise=True) == "2023-11-14T22:13:20.250Z"
    assert parse_timestamp("2023-11-14T22:13:20.250Z") == T0 + 0.25
    assert parse_timestamp("2023-11-14T22:13:20") == T0
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(42) is None


def test_memory_survives_the_round_trip_through_the_status() -> None:
    memory = Memory(recommendations=((T0 - 20.5, 7), (T0, 2)), idle_since=T0 - 3.125, observed_at=T0)
    assert memory_from_status(memory_to_status(memory)) == memory
    assert memory_to_status(Memory()) == {"recommendations": [], "idleSince": None, "observedTime": None}


def test_an_unreadable_memory_is_forgotten_not_trusted() -> None:
    status = {"recommendations": [{"time": "garbage", "replicas": 4}, {"time": timestamp(T0), "replicas": -1},
                                  {"time": timestamp(T0), "replicas": True}, "nonsense",
                                  {"time": timestamp(T0 - 5), "replicas": 2}],
              "idleSince": 17, "observedTime": None}  # fmt: skip
    assert memory_from_status(status) == Memory(recommendations=((T0 - 5, 2),))
    assert memory_from_status(None) == Memory()
    assert memory_from_status({"recommendations": "all of them"}) == Memory()


def test_the_newest_copy_of_the_memory_wins() -> None:
    old, new = Memory(observed_at=T0 - 10), Memory(observed_at=T0)
    assert newest(old, new) is new
    assert newest(new, old) is new
    assert newest(None, old) is old
    assert newest(Memory(), old) is old
    assert newest() == Memory()


def test_a_transition_time_moves_only_when_the_status_does() -> None:
    previous = [
        {"type": "RedisReachable", "status": "True", "reason": "QueuesRead", "lastTransitionTime": "then"},
        {"type": "Scaling", "status": "True", "reason": "Steady", "lastTransitionTime": "then"},
        {"type": "Custom", "status": "True"},
    ]
    new = [Condition("RedisReachable", "False", "RedisUnavailable", "refused"),
           Condition("Scaling", "True", "ScaledUp", "more work")]  # fmt: skip
    merged = merge_conditions(previous, new, T0)
    assert merged[0] == {"type": "RedisReachable", "status": "False", "reason": "RedisUnavailable",
                         "message": "refused", "lastTransitionTime": timestamp(T0)}  # fmt: skip
    assert merged[1]["lastTransitionTime"] == "then"
    assert merged[1]["reason"] == "ScaledUp"
    assert merged[2] == {"type": "Custom", "status": "True"}
    assert [c.type for c in transitions(previous, new)] == ["RedisReachable"]
    assert [c.type for c in transitions(None, new)] == ["RedisReachable", "Scaling"]


def test_the_status_after_a_scale() -> None:
    patch = status_patch(SPEC, decision(), {}, now=T0, generation=4, applied=True)
    assert patch["queueList"] == "emails,reports"
    assert (patch["backlog"], patch["active"], patch["oldestAge"], patch["pausedBacklog"]) == (240, 10, 12.3, 7)
    assert (patch["desiredReplicas"], patch["currentReplicas"]) == (3, 3)
    assert (patch["lastScaleTime"], patch["lastScaleReason"]) == (timestamp(T0), "250 tasks make 3")
    assert patch["observedGeneration"] == 4
    assert patch["recommendations"] == [{"time": timestamp(T0, precise=True), "replicas": 3}]
    assert [c["type"] for c in patch["conditions"]] == ["RedisReachable", "Scaling"]


def test_the_status_of_a_hold_keeps_the_last_known_load() -> None:
    hold = decision(replicas=None, current=5, verdict="RedisUnavailable", load=None)
    patch = status_patch(SPEC, hold, {"backlog": 99}, now=T0, generation=None, applied=False)
    assert "backlog" not in patch  # a merge patch without it keeps the last value read
    assert "desiredReplicas" not in patch
    assert "lastScaleTime" not in patch
    assert "observedGeneration" not in patch
    assert patch["currentReplicas"] == 5


def test_a_scale_that_did_not_go_through_reports_the_replicas_as_they_are() -> None:
    patch = status_patch(SPEC, decision(), {}, now=T0, generation=1, applied=False)
    assert (patch["desiredReplicas"], patch["currentReplicas"]) == (3, 1)
    assert "lastScaleTime" not in patch
