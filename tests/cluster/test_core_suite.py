"""The core's behavioural suite, run again against a Redis Cluster (see conftest.py).

Every test of these modules is collected here a second time, under the name
`test_<module>__<test>`; its fixtures resolve to the cluster. Nothing in them knows it runs on a
cluster: that is the point.
"""

from __future__ import annotations

import importlib

CORE_MODULES = [
    *(f"tests.redis.scripts.test_{name}" for name in (
        "bury", "cancel", "claim", "complete", "dead_letters", "enqueue", "expire", "extend", "promote", "reads",
        "release", "requeue_expired", "retry",
    )),
    "tests.redis.test_client",
    "tests.redis.test_worker",
    "tests.redis.test_wakeup",
    "tests.redis.test_model",
    "tests.redis.test_processes",
    "tests.redis.test_shards",
    "tests.api.test_tasks",
    "tests.api.test_admin",
]  # fmt: skip


# Tests that measure one server rather than dtq's behaviour.
SINGLE_SERVER_ONLY = {
    "tests.redis.test_worker.test_claims_in_batches": "counts EVALSHA calls in one server's INFO commandstats",
    "tests.redis.test_shards.test_a_lone_server_cannot_acknowledge_a_replica_wait": "every primary has a replica here",
}


def _collect_again(modules: list[str]) -> dict[str, object]:
    found: dict[str, object] = {}
    for name in modules:
        module = importlib.import_module(name)
        short = name.rsplit(".", 1)[1].removeprefix("test_")
        for attribute, value in vars(module).items():
            if attribute.startswith("test_") and callable(value) and f"{name}.{attribute}" not in SINGLE_SERVER_ONLY:
                found[f"test_{short}__{attribute.removeprefix('test_')}"] = value
    return found


globals().update(_collect_again(CORE_MODULES))
