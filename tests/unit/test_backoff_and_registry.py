"""Backoff bounds, and handler registration."""

from __future__ import annotations

import random

import pytest

import dtq
from dtq.backoff import Backoff
from dtq.errors import ConfigError


def test_delays_grow_exponentially_within_jitter_and_stop_at_the_cap() -> None:
    policy = Backoff(base=1, factor=2, max=10, jitter=0.2)
    assert policy.bounds(1) == (0.8, 1.2)
    assert policy.bounds(3) == (3.2, 4.8)
    assert policy.bounds(50) == (8.0, 12.0)
    rng = random.Random(7)
    for attempt in range(1, 12):
        low, high = policy.bounds(attempt)
        assert all(low <= policy.delay(attempt, rng) <= high for _ in range(200))


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert Backoff(base=1, factor=10, max=60, jitter=0).bounds(100_000) == (60, 60)


def test_registration_detects_async_and_the_context_parameter() -> None:
    app = dtq.App(builtins=True)

    @app.task(name="a", queue="q", max_retries=1)
    async def a(payload: object, ctx: dtq.TaskContext) -> None: ...

    @app.task
    def b(payload: object) -> None: ...

    first, second = app.get("a"), app.get("b")
    assert first is not None and (first.is_async, first.wants_context, first.queue) == (True, True, "q")
    assert second is not None and (second.is_async, second.wants_context) == (False, False)
    assert {"echo", "sleep", "fail"} <= set(app.names())
    assert app.queues() == ["default", "q"]


def test_bad_registrations_and_app_paths_are_config_errors() -> None:
    with pytest.raises(dtq.DtqError):
        dtq.App(builtins=True).task(queue="bad queue")
    with pytest.raises(ConfigError, match="module:attribute"):
        dtq.App.load("no_colon")
    with pytest.raises(ConfigError, match="cannot import"):
        dtq.App.load("no.such.module:app")
    with pytest.raises(ConfigError, match=r"not a dtq\.App"):
        dtq.App.load("dtq:Client")


def test_a_reset_transport_counts_as_redis_being_unavailable() -> None:
    from dtq.errors import RedisUnavailable
    from dtq.store.connection import redis_errors

    with pytest.raises(RedisUnavailable, match="reset"), redis_errors():
        raise RuntimeError("the handler is closed")
    with pytest.raises(RuntimeError, match="unrelated"), redis_errors():
        raise RuntimeError("unrelated bug")
