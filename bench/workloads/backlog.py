"""Scale 1 (dtq only): enqueue and drain backlogs of 10k, 100k and 1M no-op tasks.

At each size: the no-op drain of workload 1 (``Client.enqueue_many`` in chunks of 1,000 through
the producer entrypoint, then K ``dtq worker`` processes timed until the probe counts N) with one
and with two workers, and, on an emptied server, the same N stored through ``POST /tasks/bulk``
of a fresh ``dtq api``. A drain's Redis cost per task (commands, CPU from ``INFO`` deltas) is
the claim and the completion together: the share that must stay flat as the backlog grows.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench import runner
from bench.contender import Contender
from bench.context import Context
from bench.results import Bar, Chart, Section, Table
from bench.venvs import Env
from bench.workloads import dtq_only, scale
from bench.workloads.drain import Sample, drain_once

HTTP_ITEMS = 1_000
"""Tasks per ``POST /tasks/bulk`` (as in the http-enqueue workload)."""
HTTP_CONNECTIONS = 2
ITEM = {"task": "noop", "payload": {"sent_at": 0.0}}
COLUMNS = (
    "Backlog",
    "Client bulk enqueue (tasks/s)",
    "HTTP bulk enqueue (tasks/s)",
    "Drain, 1 worker (tasks/s)",
    "Drain, 2 workers (tasks/s)",
    "Drain from start, 1 / 2 workers (tasks/s)",
    "Redis CPU µs/task, 1 / 2 workers",
    "Redis cmds/task, 1 / 2 workers",
    "Other CPU before (%)",
)


@dataclass(frozen=True)
class Size:
    """Everything measured at one backlog size."""

    n: int
    one: Sample
    two: Sample
    http_rate: float


def post_bulk(port: int, n: int) -> float:
    """Store ``n`` tasks with ``POST /tasks/bulk`` over two keep-alive connections; tasks/s."""
    body = json.dumps([ITEM] * HTTP_ITEMS).encode()
    requests = -(-n // HTTP_ITEMS)
    lock = threading.Lock()
    left = [requests]
    errors: list[str] = []

    def send() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=scale.HTTP_TIMEOUT_S)
        try:
            while True:
                with lock:
                    if left[0] <= 0 or errors:
                        return
                    left[0] -= 1
                conn.request("POST", "/tasks/bulk", body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                answer = response.read()
                if response.status != 200:
                    errors.append(f"HTTP {response.status} {answer[:120]!r}")
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=send) for _ in range(HTTP_CONNECTIONS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise runner.RunFailed(f"POST /tasks/bulk: {errors[0]}")
    return requests * HTTP_ITEMS / elapsed


def http_fill(ctx: Context, dtq: Contender, env: Env, n: int, tag: str) -> float:
    """The HTTP bulk rate at ``n``, checked against the ready count the API then reports."""
    runner.wait_quiet(ctx)
    runner.reset(ctx)
    api = scale.start_api(ctx, dtq, env, tag)
    try:
        rate = post_bulk(api.port, n)
        queue = api.json("GET", "/queues/default")
        ready = queue.get("ready") if isinstance(queue, dict) else None
    finally:
        api.close()
    stored = -(-n // HTTP_ITEMS) * HTTP_ITEMS
    if ready != stored:
        raise runner.RunFailed(f"{stored:,} tasks accepted over HTTP but the API counts {ready} ready")
    return rate


def measure(ctx: Context, dtq: Contender, env: Env, n: int) -> Size:
    limit = ctx.config.scale_timeout_s
    one = drain_once(ctx, dtq, env, k=1, n=n, tag=f"backlog-{scale.label(n)}-k1", timeout_s=limit)
    two = drain_once(ctx, dtq, env, k=2, n=n, tag=f"backlog-{scale.label(n)}-k2", timeout_s=limit)
    http_rate = http_fill(ctx, dtq, env, n, f"backlog-{scale.label(n)}-api")
    runner.reset(ctx)
    return Size(n, one, two, http_rate)


def _row(size: Size) -> tuple[str, ...]:
    one, two = size.one, size.two
    return (
        f"{size.n:,}",
        f"{(one.enqueue_rate + two.enqueue_rate) / 2:,.0f}",
        f"{size.http_rate:,.0f}",
        f"{one.rate_from_first:,.0f}",
        f"{two.rate_from_first:,.0f}",
        f"{one.drain_rate:,.0f} / {two.drain_rate:,.0f}",
        f"{one.cpu_us_per_task:.1f} / {two.cpu_us_per_task:.1f}",
        f"{one.commands_per_task:.2f} / {two.commands_per_task:.2f}",
        f"{max(one.background_pct, two.background_pct):.0f}",
    )


def charts(sizes: Sequence[Size]) -> list[Chart]:
    rates = Chart("backlog: rates against backlog size", "tasks/s", figure=scale.FIGURE)
    cost = Chart("backlog: Redis CPU per drained task against backlog size", "µs per task", figure=scale.FIGURE)
    for s in sizes:
        x = scale.label(s.n)
        rates.bars.append(Bar(x, "client bulk enqueue", scale.one((s.one.enqueue_rate + s.two.enqueue_rate) / 2)))
        rates.bars.append(Bar(x, "HTTP bulk enqueue", scale.one(s.http_rate)))
        rates.bars.append(Bar(x, "drain, 1 worker", scale.one(s.one.rate_from_first)))
        rates.bars.append(Bar(x, "drain, 2 workers", scale.one(s.two.rate_from_first)))
        cost.bars.append(Bar(x, "1 worker", scale.one(s.one.cpu_us_per_task)))
        cost.bars.append(Bar(x, "2 workers", scale.one(s.two.cpu_us_per_task)))
    return [rates, cost]


class Backlog:
    """Client and HTTP bulk enqueue, then drains by 1 and 2 workers, at each backlog size."""

    name = "backlog"

    def run(self, ctx: Context, contenders: Sequence[Contender]) -> Section:
        table = Table("Backlog: enqueue and drain against size (dtq only)", COLUMNS)
        found = dtq_only.find(ctx, contenders, table)
        sizes: list[Size] = []
        if found is not None:
            dtq, env = found
            try:
                ctx.say("[backlog] warm-up drain (N=2,000, 1 worker)")
                drain_once(ctx, dtq, env, k=1, n=2_000, tag="backlog-warmup")
                for n in ctx.config.backlog_sizes:
                    size = measure(ctx, dtq, env, n)
                    ctx.say(f"[backlog] {n:,}: {' | '.join(_row(size)[1:])}")
                    table.rows.append(_row(size))
                    sizes.append(size)
            except runner.RunFailed as exc:
                ctx.say(f"[backlog] failed: {exc}")
                table.rows.append(("", f"failed: {exc}", *[""] * (len(COLUMNS) - 2)))
        table.notes.extend(
            [
                "One run per size (a million-task fill and drain takes about a minute), after one uncounted "
                "2,000-task warm-up drain. Each drain starts from an emptied server: its own enqueue, then the "
                "workers (`dtq worker --concurrency 100`, the no-op handler of workload 1).",
                "Client bulk enqueue: `Client.enqueue_many()` in chunks of 1,000 from the producer entrypoint, "
                "mean of the two drains' fills. HTTP bulk enqueue: `POST /tasks/bulk` bodies of 1,000 tasks, "
                f"{HTTP_CONNECTIONS} keep-alive connections from the harness, to one `dtq api`; the API's "
                "`GET /queues/default` must then count every accepted task as ready.",
                "Drain columns: from the first completion (boot excluded, the figure that compares sizes; at 10k "
                "the ~0.35 s boot is most of the from-start time). Redis CPU µs and commands per task: "
                "`INFO cpu` / `INFO commandstats` deltas of the queue server over the drain, divided by N "
                "(claims and completions together, as in workload 1).",
                "Goals (issue 14): the drain rate at 1,000,000 within 10 % of the rate at 20,000 (workload 1's "
                "size), and the Redis cost per task flat across sizes.",
            ]
        )
        intro = (
            "How dtq's enqueue and drain rates, and Redis's cost per task, change as one queue's backlog "
            f"grows: {', '.join(f'{n:,}' for n in ctx.config.backlog_sizes)} waiting no-op tasks."
        )
        return Section("Scale 1: backlog (dtq only)", intro, [table], charts(sizes) if sizes else [])
