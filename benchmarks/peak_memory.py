"""Peak resident memory of the current process, for the benchmark scripts' worker processes."""

from __future__ import annotations

from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (VmHWM). Not getrusage's ru_maxrss: after
    exec that keeps the high-water mark of the process image before it, the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
