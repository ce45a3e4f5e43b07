"""Facts about the machine a run happened on, for the report's header."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def facts() -> dict[str, str]:
    """CPU, cores, kernel and Python; Redis and load are added by the caller."""
    return {
        "CPU": cpu_model(),
        "Cores": str(os.cpu_count()),
        "Kernel": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
    }
