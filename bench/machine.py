"""Facts about the machine a run happened on, for the report's header."""

from __future__ import annotations

import os
import platform
import time
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


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot, from the first line of /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user/nice
    return total - idle, total


def busy_fraction(interval_s: float = 0.5) -> float:
    """Share of all cores busy over ``interval_s``: between runs, that is other people's work."""
    busy0, total0 = _cpu_times()
    time.sleep(interval_s)
    busy1, total1 = _cpu_times()
    return (busy1 - busy0) / max(1, total1 - total0)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds one process has used so far (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) may hold spaces; utime and stime are fields 14 and 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
