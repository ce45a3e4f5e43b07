"""The shard map: parsing DTQ_REDIS_SHARDS, which physical queue a task goes to, expansion."""

from __future__ import annotations

import pytest

from dtq.errors import ConfigError
from dtq.settings import Settings
from dtq.shards import Shards


def test_the_setting_reads_queue_equals_count_pairs() -> None:
    settings = Settings.from_env(redis={"shards": "emails=4, reports=2"})
    assert settings.redis.shards == {"emails": 4, "reports": 2}


@pytest.mark.parametrize(
    ("value", "says"),
    [("emails", "not queue=count"), ("emails=0", "1 to 256"), ("emails=x", "integer"), ("a b=2", "queue name"),
     ("emails~1=2", "not one of its physical shards")],
)  # fmt: skip
def test_bad_maps_name_the_setting(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match="DTQ_REDIS_SHARDS") as caught:
        Settings.from_env(redis={"shards": value})
    assert says in str(caught.value)


def test_unsharded_queues_pass_through_untouched() -> None:
    shards = Shards({"emails": 3, "single": 1})
    assert shards.counts == {"emails": 3}  # one shard is no sharding
    assert shards.of("other") == ["other"] and shards.of("single") == ["single"]
    assert shards.expand(["a", "emails", "b"]) == ["a", "emails~0", "emails~1", "emails~2", "b"]
    assert not Shards({}) and Shards({}).expand(["x"]) == ["x"]


def test_tasks_without_a_key_go_round_robin_and_keyed_ones_stick_to_their_shard() -> None:
    shards = Shards({"emails": 3})
    assert [shards.place("emails", None) for _ in range(6)] == ["emails~0", "emails~1", "emails~2"] * 2
    homes = {shards.place("emails", "invoice-9") for _ in range(20)}
    assert len(homes) == 1  # the idempotency key is checked in one shard
    assert {shards.place("emails", f"k{n}") for n in range(100)} == {"emails~0", "emails~1", "emails~2"}
    assert shards.place("other", "k") == "other"


def test_spread_regroups_by_physical_queue_keeping_order_within_each() -> None:
    shards = Shards({"hot": 2})
    spread = shards.spread({"hot": [(0, None), (1, "k"), (2, None)], "cold": [(3, None)]}, lambda item: item[1])
    assert spread["cold"] == [(3, None)]
    assert sorted(i for items in spread.values() for i, _ in items) == [0, 1, 2, 3]
    assert all([i for i, _ in items] == sorted(i for i, _ in items) for items in spread.values())
