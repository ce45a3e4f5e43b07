"""The result model every workload returns and the report and chart render."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.stats import Spread


@dataclass(frozen=True)
class Table:
    """One Markdown table: header, rows of pre-formatted cells, and notes printed under it."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Bar:
    """One bar of the chart: a median with min/max whiskers, grouped by ``series``."""

    label: str
    series: str
    spread: Spread


@dataclass(frozen=True)
class Chart:
    """One panel of the PNG."""

    title: str
    unit: str
    bars: list[Bar] = field(default_factory=list)
    log_scale: bool = False
    figure: str = ""
    """Which PNG: "" is ``latest.png``; any other name ``latest-<name>.png`` (the scale family's)."""


@dataclass(frozen=True)
class Section:
    """What one workload contributes to ``latest.md`` (and, optionally, to ``latest.png``)."""

    title: str
    intro: str
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
