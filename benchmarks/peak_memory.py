"""Resident memory of the current process, for the benchmark scripts."""

from __future__ import annotations

from pathlib import Path


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (VmHWM) since it started or since the last
    ``reset_peak``. Not getrusage's ru_maxrss: after exec that keeps the high-water mark of the
    process image before it, the parent's."""
    return _status_mb("VmHWM")


def rss_mb() -> float:
    """This process's resident memory now, in MiB (VmRSS)."""
    return _status_mb("VmRSS")


def reset_peak() -> None:
    """Start a new peak: the kernel sets VmHWM to the current VmRSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")
