"""The /metrics page: Prometheus text built from what the core keeps in Redis.

Counters come from each queue's `totals` hash (so they are the fleet's, not this process's),
gauges from the queue counts, histograms from what workers flushed.
"""

from __future__ import annotations

from collections.abc import Iterable

from dtq.client import Client
from dtq.events import EVENTS
from dtq.metrics import HISTOGRAMS
from dtq.store.calls import QueueCounts, combined_counts
from dtq.store.histograms import merge_histograms
from dtq.store.store import Counted

HISTOGRAM_HELP = {
    "duration": ("dtq_task_duration_seconds", "Seconds a handler ran."),
    "pickup": ("dtq_task_pickup_latency_seconds", "Seconds from ready to claimed by a worker."),
}


def label(value: str) -> str:
    """A label value, escaped as the text format requires."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


async def render(client: Client, top: int) -> str:
    """The whole exposition: per-queue series for the `top` queues holding the most tasks, and
    the rest summed under queue="_other", so the page's size is bounded by `top` whatever
    producers name. Within a queue, counters of the `top` busiest task names, the rest "_other"."""
    queues = await client.queues()
    stats = await client.all_queue_stats(queues)
    counted = await client.store.counted(queues)
    workers = await client.workers()
    shown = set(sorted(stats, key=lambda q: (-_depth(stats[q]), q))[:top])
    stats, counted = _fold(stats, counted, shown)
    lines: list[str] = []
    for event, help_text in EVENTS.items():
        lines += _header(f"dtq_tasks_{event}_total", "counter", help_text)
        for queue, count in counted.items():
            for task, n in _top_names(count.totals[event], top):
                lines.append(f'dtq_tasks_{event}_total{{queue="{label(queue)}",task="{label(task)}"}} {n}')
    lines += _gauges(stats)
    lines += _header("dtq_workers", "gauge", "Live workers.")
    lines.append(f"dtq_workers {len(workers)}")
    for name in HISTOGRAMS:
        metric, help_text = HISTOGRAM_HELP[name]
        lines += _header(metric, "histogram", help_text)
        for queue, count in counted.items():
            histogram = count.histograms[name]
            q = label(queue)
            lines += [f'{metric}_bucket{{queue="{q}",le="{le}"}} {n}' for le, n in histogram.cumulative]
            lines.append(f'{metric}_sum{{queue="{q}"}} {histogram.total}')
            lines.append(f'{metric}_count{{queue="{q}"}} {histogram.count}')
    return "\n".join(lines) + "\n"


#: The label of what is folded together. It is also a valid queue name: a queue really named
#: `_other` is shown as itself only while it is among the top ones (docs/operations.md).
OTHER = "_other"


def _depth(c: QueueCounts) -> int:
    return c.ready + c.scheduled + c.retrying + c.active + c.dead


def _fold(
    stats: dict[str, QueueCounts], counted: dict[str, Counted], shown: set[str]
) -> tuple[dict[str, QueueCounts], dict[str, Counted]]:
    """`stats` and `counted` with every queue outside `shown` summed into one entry, OTHER."""
    rest = [q for q in stats if q not in shown]
    if not rest:
        return stats, counted
    kept_stats = {q: c for q, c in stats.items() if q in shown}
    kept_stats[OTHER] = combined_counts([stats[q] for q in rest])
    kept_counted = {q: c for q, c in counted.items() if q in shown}
    folded = [counted[q] for q in rest if q in counted]
    if folded:
        kept_counted[OTHER] = Counted(
            totals={event: _summed([c.totals[event] for c in folded]) for event in EVENTS},
            histograms={name: merge_histograms([c.histograms[name] for c in folded]) for name in HISTOGRAMS},
        )
    return kept_stats, kept_counted


def _summed(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for name, n in part.items():
            total[name] = total.get(name, 0) + n
    return total


def _top_names(counts: dict[str, int], top: int) -> list[tuple[str, int]]:
    """The `top` names by count, sorted by name, and the rest summed as OTHER."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = sorted(ranked[:top])
    rest = sum(n for _, n in ranked[top:])
    return [*shown, (OTHER, rest)] if len(ranked) > top else shown


def _header(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _gauges(stats: dict[str, QueueCounts]) -> Iterable[str]:
    yield from _header("dtq_queue_tasks", "gauge", "Tasks in each state (finished ones while retained).")
    for queue, c in stats.items():
        q = label(queue)
        for state in ("scheduled", "retrying", "active", "dead", "succeeded", "cancelled"):
            yield f'dtq_queue_tasks{{queue="{q}",state="{state}"}} {getattr(c, state)}'
        yield f'dtq_queue_tasks{{queue="{q}",state="ready"}} {c.ready}'
    yield from _header("dtq_queue_ready_tasks", "gauge", "Ready tasks per priority.")
    for queue, c in stats.items():
        for priority, count in enumerate(c.ready_by_priority):
            yield f'dtq_queue_ready_tasks{{queue="{label(queue)}",priority="{priority}"}} {count}'
    yield from _header("dtq_queue_oldest_ready_age_seconds", "gauge", "Seconds the oldest ready task has waited.")
    for queue, c in stats.items():
        yield f'dtq_queue_oldest_ready_age_seconds{{queue="{label(queue)}"}} {c.oldest_ready_age}'
    yield from _header("dtq_queue_paused", "gauge", "1 while the queue is paused.")
    for queue, c in stats.items():
        yield f'dtq_queue_paused{{queue="{label(queue)}"}} {int(c.paused)}'
