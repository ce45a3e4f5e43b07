"""Scale 3 (dtq only): the dead-letter reads, redrive and purge at 10k and 100k dead tasks.

The dead letters are made the way users get them, cheaply: tasks of ten names over ten queues,
enqueued with ``max_retries=0`` to handlers that always raise (``dtq_scale_tasks``), drained by
one ``dtq worker``; each is dead after its one attempt. The worker is then stopped and a fresh
``dtq api`` answers: the first page of ``GET /dead``, pages filtered by task name, by queue and
by both (p50 of timed reads), then ``POST /dead/retry?task=`` for every task of one name and
``DELETE /dead`` for the rest, each timed once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import dtq
from bench import runner
from bench.contender import Contender
from bench.contenders.dtq_scale_tasks import FAIL_NAMES
from bench.context import Context
from bench.results import Bar, Chart, Section, Table
from bench.venvs import Env
from bench.workloads import dtq_only, scale

QUEUES = tuple(f"dead{i}" for i in range(10))
QUEUE, NAME = QUEUES[3], FAIL_NAMES[3]
PAGE = 50
# label -> (path, the share of the dead tasks the filter matches)
READS: dict[str, tuple[str, int]] = {
    "`GET /dead` (first page)": (f"/dead?limit={PAGE}", 1),
    "`GET /dead?task=` (one name)": (f"/dead?task={NAME}&limit={PAGE}", len(FAIL_NAMES)),
    "`GET /dead?queue=` (one queue)": (f"/dead?queue={QUEUE}&limit={PAGE}", len(QUEUES)),
    "`GET /dead?queue=&task=`": (f"/dead?queue={QUEUE}&task={NAME}&limit={PAGE}", len(QUEUES) * len(FAIL_NAMES)),
}
POLL_S = 0.25
COLUMNS = (
    "Dead tasks",
    "Made dead (tasks/s)",
    *(f"{label}, p50 ms" for label in READS),
    "Redrive one name: tasks",
    "Redrive (s)",
    "Redrive µs/task",
    "Purge the rest: tasks",
    "Purge (s)",
    "Purge µs/task",
)


@dataclass
class Sample:
    n: int
    dead_rate: float = 0.0
    reads_ms: dict[str, float] = field(default_factory=dict)
    redriven: int = 0
    redrive_s: float = 0.0
    purged: int = 0
    purge_s: float = 0.0


def requests(n: int) -> Iterator[dtq.TaskRequest]:
    """``n`` failing tasks, queues and names interleaved so that every queue holds every name."""
    for i in range(n):
        name = FAIL_NAMES[(i // len(QUEUES)) % len(FAIL_NAMES)]
        yield dtq.TaskRequest(task=name, queue=QUEUES[i % len(QUEUES)], max_retries=0)


def make_dead(ctx: Context, dtq_contender: Contender, env: Env, n: int) -> float:
    """Fill, then run one worker until ``n`` are dead (as ``all_queue_stats`` counts); tasks/s."""
    scale.fill(ctx, requests(n))
    argv = [str(env.bin_dir / "dtq"), "worker", "--app", scale.SCALE_APP, "--queues", ",".join(QUEUES)]
    group = dtq_only.start(ctx, dtq_contender, [[*argv, "--concurrency", "100"]], f"dead-{scale.label(n)}-worker")
    started = time.perf_counter()
    deadline = started + ctx.config.scale_timeout_s
    try:
        while (dead := sum(c.dead for c in scale.counts(ctx, QUEUES).values())) < n:
            if group.exited() or time.perf_counter() > deadline:
                raise runner.RunFailed(f"{dead:,} of {n:,} dead ({group.tail(2)[:160]})")
            time.sleep(POLL_S)
        return n / (time.perf_counter() - started)
    finally:
        group.stop()


def _count(api: scale.Api, method: str, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    answer = api.json(method, path)
    elapsed = time.perf_counter() - started
    count = answer.get("count") if isinstance(answer, dict) else None
    if not isinstance(count, int):
        raise runner.RunFailed(f"{method} {path}: no count in {answer!r:.120}")
    return count, elapsed


def _page(api: scale.Api, path: str, size: int) -> None:
    answer = api.json("GET", path)
    tasks = answer.get("tasks") if isinstance(answer, dict) else None
    if not isinstance(tasks, list) or len(tasks) != size:
        raise runner.RunFailed(f"GET {path}: expected a page of {size} dead tasks")


def once(ctx: Context, dtq_contender: Contender, env: Env, n: int) -> Sample:
    runner.wait_quiet(ctx)
    runner.reset(ctx)
    sample = Sample(n, dead_rate=make_dead(ctx, dtq_contender, env, n))
    api = scale.start_api(ctx, dtq_contender, env, f"dead-{scale.label(n)}-api")
    try:
        for label, (path, share) in READS.items():
            size = min(PAGE, n // share)
            read = functools.partial(_page, api, path, size)
            sample.reads_ms[label] = scale.p50(scale.timed_ms(read, ctx.config.reads))
        sample.redriven, sample.redrive_s = _count(api, "POST", f"/dead/retry?task={NAME}")
        sample.purged, sample.purge_s = _count(api, "DELETE", "/dead")
    finally:
        api.close()
    if sample.redriven != n // len(FAIL_NAMES) or sample.purged != n - sample.redriven:
        raise runner.RunFailed(f"redrove {sample.redriven:,} and purged {sample.purged:,} of {n:,} dead tasks")
    runner.reset(ctx)
    return sample


def _row(s: Sample) -> tuple[str, ...]:
    return (
        f"{s.n:,}",
        f"{s.dead_rate:,.0f}",
        *(f"{s.reads_ms[label]:.1f}" for label in READS),
        f"{s.redriven:,}",
        f"{s.redrive_s:.2f}",
        f"{s.redrive_s / max(1, s.redriven) * 1e6:.1f}",
        f"{s.purged:,}",
        f"{s.purge_s:.2f}",
        f"{s.purge_s / max(1, s.purged) * 1e6:.1f}",
    )


def charts(samples: Sequence[Sample]) -> list[Chart]:
    reads = Chart("dead letters: page reads (p50) against dead tasks", "ms", log_scale=True, figure=scale.FIGURE)
    bulk = Chart("dead letters: redrive and purge per task against dead tasks", "µs per task", figure=scale.FIGURE)
    for s in samples:
        x = scale.label(s.n)
        for label, ms in s.reads_ms.items():
            reads.bars.append(Bar(x, label.strip("`").split("`")[0], scale.one(ms)))
        bulk.bars.append(Bar(x, "redrive one name", scale.one(s.redrive_s / max(1, s.redriven) * 1e6)))
        bulk.bars.append(Bar(x, "purge", scale.one(s.purge_s / max(1, s.purged) * 1e6)))
    return [reads, bulk]


class DeadLetters:
    """``GET /dead`` pages, redrive of one name and purge, at each dead-letter count."""

    name = "dead-letters"

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section:
        cfg = ctx.config
        table = Table("Dead letters: reads, redrive and purge against their number (dtq only)", COLUMNS)
        found = dtq_only.find(ctx, contenders, table)
        samples: list[Sample] = []
        if found is not None:
            dtq_contender, env = found
            for n in cfg.dead_sizes:
                try:
                    sample = once(ctx, scale.variant(dtq_contender), env, n)
                except runner.RunFailed as exc:
                    ctx.say(f"[dead-letters] {n:,}: failed: {exc}")
                    table.rows.append((f"{n:,}", f"failed: {exc}", *[""] * (len(COLUMNS) - 2)))
                    continue
                ctx.say(f"[dead-letters] {' | '.join(_row(sample))}")
                table.rows.append(_row(sample))
                samples.append(sample)
        table.notes.extend(
            [
                f"One run per size. The dead tasks: {len(FAIL_NAMES)} task names over {len(QUEUES)} queues "
                f"(`{QUEUES[0]}`...`{QUEUES[-1]}`), every queue holding every name equally, enqueued with "
                "`max_retries=0` to handlers that raise, drained by one `dtq worker --concurrency 100` (Made dead: "
                "from its start until `Client.all_queue_stats()` counts all dead), which is stopped before the reads.",
                f"Reads: pages of {PAGE} from a fresh `dtq api` over one keep-alive connection, p50 of "
                f"{cfg.reads} timed reads after one uncounted one; each must return a full page (or all matches, "
                "when fewer). The filters: "
                f"task `{NAME}` (a tenth of the dead), queue `{QUEUE}` (a tenth), both (a hundredth).",
                f"Redrive: `POST /dead/retry?task={NAME}` (every queue, a tenth of the dead back to queued); purge: "
                "`DELETE /dead` (every remaining dead task); each one request, timed once, and the counts they "
                "answer must be those numbers.",
                "Goal (issue 14): none of these scans the whole dead set per request: the page reads flat as "
                "the dead letters grow, redrive and purge flat per task.",
            ]
        )
        intro = f"What the dead-letter API costs with {' and '.join(f'{n:,}' for n in cfg.dead_sizes)} dead tasks."
        return Section("Scale 3: dead letters (dtq only)", intro, [table], charts(samples) if samples else [])
