"""Rendering ``latest.png``: one panel per workload chart, grouped bars with min-max whiskers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display here; must precede pyplot's import

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from bench.results import Chart


def _panel(ax: Axes, chart: Chart) -> None:
    labels = list(dict.fromkeys(b.label for b in chart.bars))
    series = list(dict.fromkeys(b.series for b in chart.bars))
    width = 0.8 / max(1, len(series))
    for i, name in enumerate(series):
        bars = {b.label: b for b in chart.bars if b.series == name}
        xs = [j + (i - (len(series) - 1) / 2) * width for j, label in enumerate(labels) if label in bars]
        present = [bars[label] for label in labels if label in bars]
        medians = [b.spread.median for b in present]
        low = [b.spread.median - b.spread.min for b in present]
        high = [b.spread.max - b.spread.median for b in present]
        ax.bar(xs, medians, width, yerr=[low, high], capsize=3, label=name)
        for x, m, b in zip(xs, medians, present, strict=True):
            ax.annotate(
                f"{m:,.0f}" if m >= 10 else f"{m:.1f}",
                (x, b.spread.max),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.set_xticks(range(len(labels)), labels, rotation=20)
    ax.set_title(chart.title, fontsize=10)
    ax.set_ylabel(chart.unit)
    if chart.log_scale:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    if chart.bars:
        ax.legend(fontsize=8)


def render(charts: Sequence[Chart], subtitle: str, path: Path) -> None:
    drawable = [c for c in charts if c.bars]
    if not drawable:
        drawable = [Chart("no results", "")]
    fig, axes = plt.subplots(len(drawable), 1, figsize=(11, 4.2 * len(drawable)), squeeze=False)
    for ax, chart in zip(axes[:, 0], drawable, strict=True):
        _panel(ax, chart)
    fig.suptitle(f"Python task queues on Redis — {subtitle}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
