"""The message that hands a parked worker the tasks an enqueue leased to it.

Written by `lua/include/lease.lua` (handover_message), read here: a line "take <token> <now ms>
<count>", then per task a line "<id> <attempt> <ready ms> <record length>" followed by the
record's bytes as stored. A message that does not parse is worth no more than a wake-up: the
worker's next claim with that token gets the same tasks back.
"""

from __future__ import annotations

from dtq.store.calls import ClaimBatch, ClaimedTask

PREFIX = b"take "


class BadHandover(ValueError):
    """The message is not a hand-over this version can read."""


def parse(message: bytes) -> tuple[str, ClaimBatch]:
    """The token a hand-over was leased under, and its tasks as a claim batch."""
    end = message.find(b"\n")
    head = message[len(PREFIX) : end].split(b" ") if message.startswith(PREFIX) and end > 0 else []
    if len(head) != 3:
        raise BadHandover("no hand-over header")
    token, now_ms, count = head[0].decode(), int(head[1]), int(head[2])
    tasks: list[ClaimedTask] = []
    at = end + 1
    for _ in range(count):
        line_end = message.find(b"\n", at)
        fields = message[at:line_end].split(b" ") if line_end > 0 else []
        if len(fields) != 4:
            raise BadHandover(f"task {len(tasks) + 1} of {count} has no header")
        task_id, attempt, ready_ms, length = fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3])
        record = message[line_end + 1 : line_end + 1 + length]
        if len(record) != length:
            raise BadHandover(f"task {task_id}'s record is cut short")
        tasks.append(ClaimedTask(task_id, record or None, attempt, ready_ms))
        at = line_end + 1 + length
    return token, ClaimBatch(now_ms, 0, tasks)
