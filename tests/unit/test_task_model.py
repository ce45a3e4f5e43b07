"""Task requests: validation names each bad field and index; encoding happens once."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dtq.errors import InvalidQueueName, InvalidTask
from dtq.ids import new_ids
from dtq.keys import check_queue_name, queue_keys, queue_of_channel
from dtq.settings import TaskDefaults
from dtq.task import TASK_NAME_PATTERN, TaskRequest, decode_spec, from_ms, prepare, rfc3339


def problems(*requests: TaskRequest) -> set[tuple[int | None, str]]:
    with pytest.raises(InvalidTask) as caught:
        prepare(list(requests), TaskDefaults())
    return {(p.index, p.field) for p in caught.value.problems}


def test_defaults_fill_unset_fields() -> None:
    (item,) = prepare([TaskRequest(task="t")], TaskDefaults(priority=4, max_retries=7, timeout=12))
    spec = decode_spec(item.spec)
    assert (item.queue, spec.priority, spec.max_retries, spec.timeout, spec.payload) == ("default", 4, 7, 12.0, None)


def test_a_record_leaves_out_what_its_key_and_its_defaults_say() -> None:
    plain, urgent = prepare([TaskRequest(task="noop"), TaskRequest(task="x", priority=9, timeout=300)], TaskDefaults())
    assert (plain.spec, urgent.spec) == (b'{"task":"noop"}', b'{"priority":9,"task":"x"}')
    # A deployment's own defaults are not the record's: they are written out.
    (own,) = prepare([TaskRequest(task="noop")], TaskDefaults(max_retries=0, timeout=30))
    assert own.spec == b'{"task":"noop","max_retries":0,"timeout":30.0}'


def test_a_record_written_before_the_compact_form_still_reads() -> None:
    old = b'{"id":"0190a-1","task":"t","queue":"q","priority":2,"max_retries":1,"timeout":5.0,"payload":[1],"key":null}'
    spec = decode_spec(old)
    assert (spec.task, spec.priority, spec.max_retries, spec.timeout, spec.payload) == ("t", 2, 1, 5.0, [1])


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (TaskRequest(task=""), "task"),
        (TaskRequest(task="a\nb"), "task"),
        (TaskRequest(task="t", queue="no/slash"), "queue"),
        (TaskRequest(task="t", queue="."), "queue"),
        (TaskRequest(task="t", queue=".."), "queue"),
        *[(TaskRequest(task=f"a{c}b"), "task") for c in ("\x85", "\x9b", "\u2028", "\u2029")],
        (TaskRequest(task="t", priority=10), "priority"),
        (TaskRequest(task="t", priority=True), "priority"),
        (TaskRequest(task="t", max_retries=-1), "max_retries"),
        (TaskRequest(task="t", timeout=0), "timeout"),
        (TaskRequest(task="t", timeout=float("nan")), "timeout"),
        (TaskRequest(task="t", delay=-1), "delay"),
        (TaskRequest(task="t", at=datetime(2030, 1, 1)), "at"),
        (TaskRequest(task="t", key=""), "key"),
        (TaskRequest(task="t", payload=object()), "payload"),
        (TaskRequest(task="t", delay=1, at=datetime.now(UTC)), "delay"),
    ],
)
def test_each_bad_field_is_named(request_: TaskRequest, field: str) -> None:
    assert problems(request_) == {(None, field)}


def test_batches_name_the_index_of_each_bad_item() -> None:
    assert problems(TaskRequest(task="ok"), TaskRequest(task="t", priority=11), TaskRequest(task="")) == {
        (1, "priority"),
        (2, "task"),
    }


def test_payload_size_is_limited() -> None:
    with pytest.raises(InvalidTask, match="payload"):
        prepare([TaskRequest(task="t", payload="x" * 2000)], TaskDefaults(max_payload_bytes=1000))


def test_times_become_milliseconds_and_rfc3339() -> None:
    moment = datetime(2026, 11, 28, 9, 17, 33, 123000, tzinfo=UTC)
    (item,) = prepare([TaskRequest(task="t", at=moment)], TaskDefaults())
    assert item.at_ms == 1795857453123
    assert rfc3339(from_ms(item.at_ms)) == "2026-11-28T09:17:33.123Z"
    assert rfc3339(moment.astimezone(UTC) + timedelta(hours=1)) == "2026-11-28T10:17:33.123Z"


def test_ids_are_uuid7_unique_and_sorted_by_creation() -> None:
    ids = new_ids(10_000)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert {uuid.UUID(i).version for i in ids} == {7}


def test_queue_keys_share_one_hash_tag() -> None:
    keys = queue_keys("dtq", "emails")
    every = [keys.queued, keys.queued_list(9), keys.active, keys.dead, keys.paused, keys.totals, *keys.columns]
    assert all(k.startswith("dtq:{emails}:") for k in every)
    assert queue_of_channel("dtq", keys.worker_channel) == "emails"
    assert queue_of_channel("dtq", "other:thing") is None


@pytest.mark.parametrize("name", [".", ".."])
def test_a_queue_named_like_a_dot_segment_is_refused_with_a_clear_error(name: str) -> None:
    with pytest.raises(InvalidQueueName, match=r"not \. or \.\."):
        check_queue_name(name)
    assert check_queue_name("...") == "..." and check_queue_name(".a") == ".a"  # not dot segments


def test_the_schema_pattern_and_the_python_check_refuse_the_same_task_names() -> None:
    refused, fine = ("a\x00", "a\x1f", "a\x7f", "a\x85", "a\x9f", "a\u2028", "a\u2029"), ("ok", "caf\u00e9 [x]")
    for name in (*refused, *fine):
        try:
            prepare([TaskRequest(task=name)], TaskDefaults())
            accepted = True
        except InvalidTask:
            accepted = False
        assert (re.fullmatch(TASK_NAME_PATTERN, name) is not None, accepted) == ((name in fine),) * 2, repr(name)
