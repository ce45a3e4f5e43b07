"""The scaling rules, with an injected clock: `reconcile()` driven through time as the operator drives it."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from dtq_operator.model import Decision, Load, Memory, Observed, ReadError, Spec
from dtq_operator.reconcile import STALE_POLLS, reconcile
from hypothesis import given, settings
from hypothesis import strategies as st

T0 = 1_700_000_000.0


def make_spec(**overrides: object) -> Spec:
    base = Spec(target="workers", queues=("jobs",), backlog_per_replica=100, min_replicas=0, max_replicas=10,
                poll_interval=5, scale_down_stabilization=300, cooldown=300)  # fmt: skip
    return replace(base, **overrides)  # type: ignore[arg-type]


class Sim:
    """The operator's loop without Kubernetes: carry the memory, apply the replica count, advance the clock."""

    def __init__(self, spec: Spec, replicas: int = 0, now: float = T0) -> None:
        self.spec = spec
        self.replicas = replicas
        self.memory = Memory()
        self.now = now
        self.changes: list[tuple[float, int, int]] = []

    def look(self, ready: int = 0, active: int = 0, oldest: float = 0.0) -> Decision:
        decision = reconcile(self.spec, Observed(Load(ready, active, oldest), self.replicas, self.memory), self.now)
        if decision.replicas is not None and decision.replicas != self.replicas:
            self.changes.append((self.now, self.replicas, decision.replicas))
            self.replicas = decision.replicas
        self.memory = decision.memory
        return decision

    def step(self, ready: int = 0, active: int = 0, oldest: float = 0.0, dt: float | None = None) -> Decision:
        self.now += self.spec.poll_interval if dt is None else dt
        return self.look(ready, active, oldest)

    def run(self, seconds: float, ready: int = 0, active: int = 0) -> Decision:
        """Poll every pollInterval for `seconds` with a steady load; returns the last decision."""
        looks = int(seconds // self.spec.poll_interval)
        assert looks >= 1
        decisions = [self.step(ready, active) for _ in range(looks)]
        return decisions[-1]


# --- the recommendation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ready", "active", "count_active", "expected"),
    [(1, 0, True, 1), (100, 0, True, 1), (101, 0, True, 2), (250, 60, True, 4), (250, 60, False, 3), (0, 0, True, 0)],
)
def test_recommendation_is_the_demand_per_replica_rounded_up(ready: int, active: int, count_active: bool,
                                                              expected: int) -> None:  # fmt: skip
    sim = Sim(make_spec(count_active=count_active), replicas=0)
    assert sim.look(ready=ready, active=active).replicas == expected


def test_scale_up_is_immediate_and_follows_a_ramp() -> None:
    sim = Sim(make_spec(), replicas=1)
    seen = [sim.step(ready=ready).replicas for ready in (50, 250, 640, 999, 5000)]
    assert seen == [1, 3, 7, 10, 10]
    assert sim.step(ready=5000).reason.endswith("capped at maxReplicas 10")
    assert [verdict for _, _, verdict in sim.changes] == [3, 7, 10]


def test_a_pool_at_zero_wakes_only_above_the_activation_backlog() -> None:
    sim = Sim(make_spec(activation_backlog=20), replicas=0)
    asleep = sim.look(ready=20)
    assert (asleep.replicas, asleep.verdict) == (0, "Asleep")
    assert "not above activationBacklog 20" in asleep.reason
    awake = sim.step(ready=21)
    assert (awake.replicas, awake.verdict) == (1, "ScaledUp")
    assert awake.reason.startswith("waking up")


def test_once_awake_any_backlog_keeps_a_replica_even_below_the_activation_backlog() -> None:
    sim = Sim(make_spec(activation_backlog=50, cooldown=10), replicas=2)
    decision = sim.run(600, ready=5)
    assert decision.replicas == 1


def test_activation_does_not_apply_when_min_replicas_is_positive() -> None:
    sim = Sim(make_spec(min_replicas=2, activation_backlog=1000), replicas=0)
    assert sim.look(ready=0).replicas == 2


def test_tasks_being_run_keep_one_replica_even_when_not_counted() -> None:
    sim = Sim(make_spec(count_active=False, cooldown=0, scale_down_stabilization=0), replicas=3)
    decision = sim.look(active=5)
    assert decision.replicas == 1
    assert "tasks being run keep one replica" in decision.reason


def test_ready_tasks_of_paused_queues_do_not_count() -> None:
    sim = Sim(make_spec(), replicas=0)
    decision = reconcile(sim.spec, Observed(Load(ready=0, paused=5000), 0, Memory()), T0)
    assert decision.replicas == 0
    assert "5000 in paused queues not counted" in decision.reason


# --- scaling down ----------------------------------------------------------------------------


def test_scale_down_waits_for_the_highest_recommendation_of_the_window() -> None:
    sim = Sim(make_spec(scale_down_stabilization=300, cooldown=10_000), replicas=0)
    sim.run(60, ready=800)
    assert sim.replicas == 8
    peak_end = sim.now
    held = sim.run(295, ready=200)
    assert (sim.replicas, held.verdict) == (8, "Stabilizing")
    assert "the highest recommendation of the last 300s" in held.reason
    down = sim.step(ready=200)
    assert sim.now - peak_end == 300  # the peak has just left the window
    assert (down.replicas, down.verdict) == (2, "ScaledDown")


def test_a_scale_down_goes_only_as_far_as_the_window_allows() -> None:
    sim = Sim(make_spec(scale_down_stabilization=100, cooldown=10_000), replicas=10)
    for ready in (1000, 800, 500, 200, 200):  # a staircase down, one step every 50s
        sim.run(50, ready=ready)
    steps = [(to, round(at - T0)) for at, _, to in sim.changes]
    # the last 10 was recommended at t=50, the last 8 at t=100, the last 5 at t=150:
    # each drop waits until the step above it is 100s old.
    assert steps == [(8, 150), (5, 200), (2, 250)]


def test_an_oscillating_load_faster_than_the_window_scales_once() -> None:
    sim = Sim(make_spec(scale_down_stabilization=300, cooldown=10_000), replicas=1)
    for _ in range(15):  # 30 minutes: 1 minute of 800 ready, 1 minute of 100
        sim.run(60, ready=800)
        sim.run(60, ready=100)
    assert [(before, after) for _, before, after in sim.changes] == [(1, 8)]


def test_an_oscillating_load_slower_than_the_window_changes_at_most_twice_a_period() -> None:
    window = 300
    sim = Sim(make_spec(scale_down_stabilization=window, cooldown=10_000), replicas=1)
    high_ends = []
    for _ in range(3):  # 10 minutes high, 10 minutes low
        sim.run(600, ready=800)
        high_ends.append(sim.now)
        sim.run(600, ready=100)
    assert [(before, after) for _, before, after in sim.changes] == [(1, 8), (8, 1)] * 3
    downs = [at for at, before, after in sim.changes if after < before]
    assert [down - end for down, end in zip(downs, high_ends, strict=True)] == [window] * 3


def test_replicas_above_max_come_down_at_once() -> None:
    sim = Sim(make_spec(max_replicas=4), replicas=20)
    decision = sim.look(ready=1000)
    assert (decision.replicas, decision.verdict) == (4, "ScaledDown")


def test_replicas_below_min_go_up_at_once() -> None:
    sim = Sim(make_spec(min_replicas=3), replicas=1)
    decision = sim.look(ready=0)
    assert decision.replicas == 3
    assert "raised to minReplicas 3" in decision.reason


# --- to and from zero ------------------------------------------------------------------------


def test_to_zero_only_after_the_cooldown_with_nothing_ready_or_active() -> None:
    sim = Sim(make_spec(scale_down_stabilization=30, cooldown=120), replicas=0)
    sim.run(20, ready=300)
    assert sim.replicas == 3
    idle_from = sim.now + sim.spec.poll_interval
    cooling = sim.run(60)
    assert (sim.replicas, cooling.verdict) == (1, "CoolingDown")
    assert "of the 120s cooldown" in cooling.reason
    while sim.replicas:
        decision = sim.step()
        assert sim.replicas == 0 or sim.now - idle_from < 120
    assert sim.now - idle_from == 120
    assert decision.verdict == "ScaledToZero"
    assert [after for _, _, after in sim.changes] == [3, 1, 0]


def test_work_during_the_cooldown_starts_it_again() -> None:
    sim = Sim(make_spec(scale_down_stabilization=0, cooldown=100), replicas=1)
    sim.run(90)
    sim.step(active=1)  # a task is picked up: not idle any more
    sim.run(95)
    assert sim.replicas == 1
    sim.run(10)
    assert sim.replicas == 0


def test_zero_comes_after_the_cooldown_even_inside_the_stabilization_window() -> None:
    sim = Sim(make_spec(scale_down_stabilization=600, cooldown=60), replicas=0)
    sim.run(30, ready=900)
    assert sim.replicas == 9
    sim.run(70)
    assert sim.replicas == 0  # like KEDA: the 1 -> 0 step follows the cooldown, not the HPA window


def test_min_replicas_never_goes_to_zero() -> None:
    sim = Sim(make_spec(min_replicas=1, cooldown=0, scale_down_stabilization=0), replicas=4)
    assert sim.run(100).replicas == 1


# --- maxOldestAge ----------------------------------------------------------------------------


def test_a_task_waiting_past_max_oldest_age_adds_one_replica_per_look() -> None:
    sim = Sim(make_spec(max_oldest_age=60, max_replicas=3), replicas=1)
    young = sim.look(ready=10, oldest=30)
    assert young.replicas == 1
    old = sim.step(ready=10, oldest=90)
    assert old.replicas == 2
    assert "over maxOldestAge 60s" in old.reason
    assert sim.step(ready=10, oldest=95).replicas == 3
    assert sim.step(ready=10, oldest=100).replicas == 3  # still capped


def test_max_oldest_age_wakes_a_pool_below_the_activation_backlog() -> None:
    sim = Sim(make_spec(max_oldest_age=60, activation_backlog=100), replicas=0)
    assert sim.look(ready=3, oldest=10).replicas == 0
    assert sim.step(ready=3, oldest=61).replicas == 1


# --- what stops scaling ----------------------------------------------------------------------


def test_max_below_min_is_a_condition_and_nothing_scales() -> None:
    spec = make_spec(min_replicas=5, max_replicas=2)
    decision = reconcile(spec, Observed(Load(ready=10_000), 3, Memory()), T0)
    assert decision.replicas is None
    assert not decision.scales
    scaling = decision.condition("Scaling")
    assert scaling is not None
    assert (scaling.status, scaling.reason) == ("False", "InvalidSpec")
    assert "maxReplicas (2) is below minReplicas (5)" in scaling.message


def test_bad_spec_fields_are_named_and_block_scaling() -> None:
    spec = Spec.parse({"targetDeployment": "w", "queues": [], "backlogPerReplica": 0, "countActive": "yes"})
    assert spec.problems() == [
        "queues must be a non-empty list of queue names",
        "backlogPerReplica must be an integer of at least 1",
        "countActive must be true or false",
    ]
    assert reconcile(spec, Observed(None, None), T0).replicas is None


def test_spec_defaults_are_the_crds() -> None:
    spec = Spec.parse({"targetDeployment": "w", "queues": ["a", "b"]})
    assert spec == Spec(target="w", queues=("a", "b"))
    assert (spec.backlog_per_replica, spec.min_replicas, spec.max_replicas, spec.poll_interval) == (100, 0, 10, 5)
    assert (spec.scale_down_stabilization, spec.cooldown, spec.count_active) == (300, 300, True)
    assert spec.max_oldest_age is None


@pytest.mark.parametrize("replicas", [0, 3, 10])
def test_a_redis_error_holds_whatever_the_memory_says(replicas: int) -> None:
    sim = Sim(make_spec(cooldown=0, scale_down_stabilization=0), replicas=replicas)
    sim.look(ready=replicas * 100)
    memory = sim.memory
    error = ReadError("RedisUnavailable", "Redis is unavailable: Connection refused")
    decision = reconcile(sim.spec, Observed(error, replicas, memory), sim.now + 3600)
    assert decision.replicas is None
    assert decision.memory == memory
    redis = decision.condition("RedisReachable")
    scaling = decision.condition("Scaling")
    assert redis is not None and scaling is not None
    assert (redis.status, redis.reason, redis.message) == ("False", "RedisUnavailable", error.message)
    assert (scaling.status, scaling.reason) == ("False", "RedisUnavailable")
    assert "holding the replica count" in scaling.message


def test_an_unreadable_scale_holds() -> None:
    missing = ReadError("TargetNotFound", "Deployment default/workers does not exist")
    decision = reconcile(make_spec(), Observed(Load(ready=500), missing, Memory()), T0)
    assert decision.replicas is None
    assert decision.verdict == "TargetNotFound"
    redis = decision.condition("RedisReachable")
    assert redis is not None and redis.status == "True"  # Redis was fine; only the Deployment was not
    assert decision.load == Load(ready=500)


def test_nothing_read_leaves_redis_reachability_unknown() -> None:
    decision = reconcile(Spec.parse({}), Observed(None, None), T0)
    redis = decision.condition("RedisReachable")
    assert redis is not None and redis.status == "Unknown"


# --- memory and idempotence ------------------------------------------------------------------


def test_a_stale_memory_restarts_the_idle_clock() -> None:
    spec = make_spec(cooldown=120, scale_down_stabilization=0)
    long_ago = T0 - 3600
    stale = Memory(recommendations=((long_ago, 1),), idle_since=long_ago, observed_at=long_ago)
    first = reconcile(spec, Observed(Load(), 1, stale), T0)
    assert (first.replicas, first.verdict) == (1, "CoolingDown")
    assert first.memory.idle_since == T0
    fresh = Memory(recommendations=(), idle_since=T0 - 200, observed_at=T0 - STALE_POLLS * spec.poll_interval)
    assert reconcile(spec, Observed(Load(), 1, fresh), T0).replicas == 0


def test_recommendations_older_than_the_window_are_forgotten_and_future_ones_clamped() -> None:
    memory = Memory(recommendations=((T0 - 400, 9), (T0 + 900, 4)), observed_at=T0 - 5)
    decision = reconcile(make_spec(cooldown=10_000), Observed(Load(ready=100), 9, memory), T0)
    assert decision.replicas == 4
    assert decision.memory.recommendations == ((T0, 4), (T0, 1))


def test_the_window_memory_stays_small() -> None:
    sim = Sim(make_spec(scale_down_stabilization=3600, poll_interval=1, cooldown=100_000), replicas=0)
    for i in range(3600):
        sim.step(ready=(i % 37) * 10)
    assert len(sim.memory.recommendations) <= sim.spec.max_replicas + 1


def test_reconcile_is_idempotent() -> None:
    sim = Sim(make_spec(scale_down_stabilization=60, cooldown=100), replicas=2)
    sim.run(30, ready=700)
    observed = Observed(Load(ready=150, active=20, oldest_age=4.0), sim.replicas, sim.memory)
    first = reconcile(sim.spec, observed, sim.now + 5)
    assert reconcile(sim.spec, observed, sim.now + 5) == first
    applied = Observed(observed.load, first.replicas or 0, first.memory)
    again = reconcile(sim.spec, applied, sim.now + 5)
    assert (again.replicas, again.memory) == (first.replicas, first.memory)


@settings(max_examples=150, deadline=None)
@given(
    loads=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 300)), min_size=1, max_size=80),
    shape=st.tuples(
        st.integers(0, 3),  # minReplicas
        st.integers(0, 8),  # maxReplicas above minReplicas + 1
        st.sampled_from([0, 15, 60, 300]),  # scaleDownStabilization
        st.sampled_from([0, 20, 120]),  # cooldown
        st.integers(0, 15),  # replicas at the start
    ),
)
def test_invariants_under_any_load(loads: list[tuple[int, int]], shape: tuple[int, int, int, int, int]) -> None:
    min_replicas, extra, window, cooldown, start = shape
    spec = make_spec(min_replicas=min_replicas, max_replicas=min_replicas + extra + 1,
                     scale_down_stabilization=window, cooldown=cooldown)  # fmt: skip
    sim = Sim(spec, replicas=start)
    history: list[tuple[float, int]] = []
    for ready, active in loads:
        before = sim.replicas
        decision = sim.step(ready=ready, active=active)
        assert decision.recommended is not None
        history.append((sim.now, decision.recommended))
        after = sim.replicas
        assert spec.min_replicas <= after <= spec.max_replicas
        # up at once: never below this look's recommendation (unless going to zero)
        assert after >= decision.recommended or after == 0
        if after < before and after > 0:  # a scale-down is justified by the whole window
            assert all(r <= after for t, r in history if t > sim.now - window)
        if after == 0 and before > 0:  # zero needs an idle cooldown
            assert ready + active == 0
            assert decision.memory.idle_since is not None
            assert sim.now - decision.memory.idle_since >= cooldown
        if ready + active and spec.min_replicas == 0 and before > 0:
            assert after >= 1
        demand = ready + active
        if before == 0 and after > 0 and spec.min_replicas == 0:
            assert demand > spec.activation_backlog
            assert after == min(max(math.ceil(demand / spec.backlog_per_replica), 1), spec.max_replicas)
