"""Render the verdicts of a chaos run as the Markdown table in docs/reliability.md.

python -m tests.chaos.report [verdict directory] [--form full]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from tests.chaos.oracle import verdict_dir

# The checks worth a column of their own, per scenario (the rest are in the JSON).
HIGHLIGHTS = {
    "1-": ["restart delay after a kill (max)"],
    "2-": ["exit within grace", "claims after the signal"],
    "3-": ["API during the outage", "reconnected after restart"],
    "4-": ["late outcomes refused", "each task counted succeeded once"],
    "5-": ["tasks stored"],
    "6-": ["throughput back after each fault"],
    "7-": ["lateness p99", "claimed before due (Redis clock)", "one attempt each"],
    "8-": [
        "failing: 5 attempts each",
        "backoff gaps within jitter bounds",
        "poison: dead after 3 attempts",
        "worker restarts",
        "redrive: each runs once more",
    ],
    "9-memory": ["refusal", "enqueue resumes once memory frees"],
    "9-eviction": ["worker refuses to start", "scheduler refuses to start", "api refuses to start"],
    "10-": ["RSS slope after warm-up", "open fds flat", "Redis keys back to baseline", "Redis memory back to baseline"],
}


def short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {short(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(short(v) for v in value[:6]) + (" ..." if len(value) > 6 else "") + "]"
    return str(value)


def row(doc: dict[str, Any]) -> str:
    acc = doc.get("accounting", {})
    checks = {c["check"]: c for c in doc["checks"]}
    extra = checks.get("extra executions")
    extra_text = f"{extra['observed']} (bound {extra['bound'].removeprefix('<= ')})" if extra else "-"
    names = next((v for k, v in HIGHLIGHTS.items() if doc["scenario"].startswith(k)), [])
    shown = [checks[n] for n in names if n in checks]
    figures = "; ".join(f"{c['check']}: {short(c['observed'])} (bound {short(c['bound'])})" for c in shown)
    cells = [doc["scenario"], doc["form"], "pass" if doc["passed"] else "**FAIL**",
             str(acc.get("acknowledged", "-")), str(acc.get("lost", "-")), str(acc.get("unexpected", "-")),
             str(acc.get("duplicate_enqueues", "-")), extra_text, figures, f"{doc['duration_s']:.0f}"]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def render(directory: Path, form: str | None) -> str:
    docs = [orjson.loads(p.read_bytes()) for p in sorted(directory.glob("*.json"))]
    docs = [d for d in docs if form is None or d["form"] == form or d["scenario"].startswith(("9-", "10-"))]
    docs.sort(key=lambda d: (int(d["scenario"].split("-")[0]), d["scenario"]))
    head = ("| scenario | form | verdict | acknowledged | lost | unexpected | duplicate enqueues | extra executions "
            "| key figures | seconds |\n|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    return "\n".join([head, *(row(d) for d in docs)])


def main(argv: list[str]) -> None:
    form = None
    if "--form" in argv:
        form = argv[argv.index("--form") + 1]
        argv = [a for a in argv if a not in ("--form", form)]
    print(render(Path(argv[0]) if argv else verdict_dir(), form))


if __name__ == "__main__":
    main(sys.argv[1:])
