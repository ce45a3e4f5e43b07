"""``python -m bench``: build the contenders' venvs, run the workloads, write the report."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import contenders, machine, report, workloads
from bench.config import FULL, QUICK
from bench.contender import Contender
from bench.context import Context
from bench.redis_server import PrivateRedis
from bench.results import Section, Table
from bench.venvs import Env, InstallError, ensure

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: small counts, 1 repeat, results under bench/.work/"
    )
    parser.add_argument(
        "--only", metavar="NAME[,NAME]", help="contenders to run: " + ",".join(c.name for c in contenders.CONTENDERS)
    )
    parser.add_argument("--workloads", metavar="NAME[,NAME]", help="workloads to run: " + ",".join(workloads.WORKLOADS))
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write latest.md/png here instead of bench/results (bench/.work/results with --quick)",
    )
    parser.add_argument(
        "--drain-n", type=int, metavar="N", help="override the drain size (for tuning a contender's settings)"
    )
    return parser.parse_args(argv)


def _prepare(ctx: Context, chosen: Sequence[Contender]) -> None:
    """Build every venv (in parallel: mostly waiting on downloads) and record failures."""

    def one(contender: Contender) -> tuple[Contender, Env | str]:
        try:
            return contender, ensure(contender, BENCH_DIR, REPO)
        except InstallError as exc:
            return contender, str(exc)

    # Contenders sharing a venv (rq, rq-fork) must not build it concurrently: first one each.
    by_venv: dict[str | None, list[Contender]] = {}
    for c in chosen:
        by_venv.setdefault(c.venv, []).append(c)
    with ThreadPoolExecutor(max_workers=4) as pool:
        firsts = list(pool.map(one, [group[0] for group in by_venv.values()]))
    rest = [one(c) for group in by_venv.values() for c in group[1:]]
    for contender, outcome in [*firsts, *rest]:
        if isinstance(outcome, Env):
            ctx.envs[contender.name] = outcome
            ctx.say(f"[setup] {contender.name}: ready ({', '.join(outcome.versions.values())})")
        else:
            ctx.failures[contender.name] = outcome
            ctx.say(f"[setup] {contender.name}: failed: {outcome}")


def _run_workloads(ctx: Context, chosen: Sequence[Contender], selected: Sequence[workloads.Workload]) -> list[Section]:
    sections = []
    for workload in selected:
        ctx.say(f"== workload {workload.name}")
        before = machine.load_average()
        try:
            section = workload.run(ctx, [c for c in chosen if c.workloads is None or workload.name in c.workloads])
        except Exception as exc:  # one broken workload must not lose the others' results
            failed = Table("failed", ("Workload", "Reason"), [(workload.name, repr(exc)[:300])])
            section = Section(f"Workload {workload.name}", "", [failed])
        # The machine may be shared; the load around each workload says how quiet it was.
        if section.tables:
            section.tables[-1].notes.append(
                f"Load average (1/5/15 min) before this workload: {before}; after: {machine.load_average()}."
            )
        sections.append(section)
    return sections


def _exit_on_signal(signum: int, _frame: object) -> None:
    # Raise instead of dying so that every `finally` stops its worker groups and the private
    # Redis servers; a background job's SIGINT is otherwise ignored by the shell.
    raise SystemExit(128 + signum)


def _dtq_revision() -> str:
    """The commit dtq was measured at, and whether dtq/ had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "dtq", "services"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{head} (with uncommitted changes in dtq/ or services/)" if dirty else head


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    config = QUICK if args.quick else FULL
    if args.drain_n:
        config = dataclasses.replace(config, drain_n=args.drain_n)
    chosen = contenders.select(args.only)
    selected = workloads.select(args.workloads)
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not on PATH (Debian/Ubuntu: `apt-get install -y redis-server`)")
    missing = workloads.missing_tools(selected)
    if missing:
        sys.exit("\n".join(missing))
    if importlib.util.find_spec("matplotlib") is None:
        sys.exit("matplotlib is missing: .venv/bin/pip install -r bench/requirements/harness.txt")
    work_dir = BENCH_DIR / ".work"
    out_dir = args.out or (work_dir / "results" if config.quick else BENCH_DIR / "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    load_before = machine.load_average()
    dtq_revision = _dtq_revision()
    started_wall, started = time.strftime("%Y-%m-%d %H:%M %Z"), time.monotonic()
    with PrivateRedis(work_dir / "redis-queue") as queue, PrivateRedis(work_dir / "redis-probe") as probe:
        ctx = Context(REPO, BENCH_DIR, work_dir, config, queue, probe)
        _prepare(ctx, chosen)
        sections = _run_workloads(ctx, chosen, selected)
        redis_version = queue.version()
    facts = machine.facts() | {
        "Redis": f'redis-server {redis_version} (private, `--save "" --appendonly no`)',
        "dtq revision": dtq_revision,
        "Load average before (1/5/15 min)": load_before,
        "Load average after (1/5/15 min)": machine.load_average(),
        "Waited for other work to quiet down": f"{ctx.quiet_waited_s:.0f} s (budget {config.quiet_budget_s:.0f} s)",
    }
    command = (
        "python -m bench"
        + (" --quick" if config.quick else "")
        + (f" --only {args.only}" if args.only else "")
        + (f" --workloads {args.workloads}" if args.workloads else "")
        + (f" --out {args.out}" if args.out else "")
    )
    info = report.RunInfo(command, started_wall, time.monotonic() - started, facts)
    text = report.render(info, chosen, ctx.envs, ctx.failures, sections)
    (out_dir / "latest.md").write_text(text)
    from bench import chart  # noqa: PLC0415 - after the check above, so a missing matplotlib is explained

    charts = [c for s in sections for c in s.charts]
    written = [out_dir / "latest.md"]
    for figure in report.figures(sections):
        same = [c for c in charts if c.figure == figure]
        written.append(out_dir / report.figure_file(figure))
        chart.render(same, f"{facts['CPU']}, {facts['Cores']} cores", written[-1])
    print(f"wrote {', '.join(str(p) for p in written)}")
