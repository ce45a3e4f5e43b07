"""Rendering ``latest.md`` from the run's facts, contenders and workload sections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.contender import Contender
from bench.results import Section, Table
from bench.venvs import Env


@dataclass(frozen=True)
class RunInfo:
    """Everything about the run that is not a measurement."""

    command: str
    started: str
    duration_s: float
    machine: dict[str, str]


def figures(sections: Sequence[Section]) -> list[str]:
    """The PNGs a run draws: always the main one (""), then each other ``Chart.figure`` named."""
    named = dict.fromkeys(c.figure for s in sections for c in s.charts if c.figure)
    return ["", *named]


def figure_file(figure: str) -> str:
    return f"latest-{figure}.png" if figure else "latest.png"


def _table(table: Table) -> list[str]:
    lines = [
        f"### {table.title}",
        "",
        "| " + " | ".join(table.columns) + " |",
        "|" + "|".join("---" for _ in table.columns) + "|",
    ]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in table.rows]
    lines.append("")
    lines += [f"- {note}" for note in table.notes]
    return [*lines, ""]


def _contenders(contenders: Sequence[Contender], envs: dict[str, Env], failures: dict[str, str]) -> list[str]:
    lines = [
        "## Contenders",
        "",
        "| Contender | Versions | Producer | Worker settings | Why these are its best for I/O-free tasks |",
        "|---|---|---|---|---|",
    ]
    for c in contenders:
        env = envs.get(c.name)
        versions = (
            ", ".join(f"{k} {v}" for k, v in env.versions.items())
            if env
            else f"failed: {failures.get(c.name, 'not installed')}"
        )
        lines.append(f"| {c.name} | {versions} | {c.producer_api} | {c.settings} | {c.why} |")
    lines += [
        "",
        "Every contender runs the same task body: it counts the completion in process memory "
        "(and, for the latency workload, appends `start - enqueue`), and a daemon thread adds "
        "the count to a counter on a *second* private Redis server every 5 ms, so neither the "
        "harness nor a per-task round trip caps the figures, and the queue server's statistics "
        "hold only the contender's own traffic (`bench/probe.py`). Each library is installed "
        "from PyPI into its own venv from the pinned `bench/requirements/<name>.txt`; dtq runs "
        "from the repository's venv. dtq's processes run on uvloop, which dtq depends on and picks "
        "by default; no peer's worker does.",
        "",
    ]
    return lines


def render(
    info: RunInfo,
    contenders: Sequence[Contender],
    envs: dict[str, Env],
    failures: dict[str, str],
    sections: Sequence[Section],
) -> str:
    lines = [
        "# Task queue benchmark: latest run",
        "",
        f"Produced by `{info.command}` on {info.started} in {info.duration_s / 60:.1f} min.",
        "",
        "## Machine",
        "",
        "| Fact | Value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in info.machine.items()]
    for f in figures(sections):
        lines += ["", f"![Benchmark chart{f' ({f})' if f else ''}]({figure_file(f)})"]
    lines.append("")
    lines += _contenders(contenders, envs, failures)
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.intro:
            lines += [section.intro, ""]
        for table in section.tables:
            lines += _table(table)
    return "\n".join(lines).rstrip() + "\n"
