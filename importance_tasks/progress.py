"""Progress a person can follow: a live bar per method on a terminal, log lines in a task.

Every method reports ``(done, total)`` in units of its real work (each method's ``unit``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["LogProgress", "TerminalProgress", "unit_of"]

LOG_EVERY_S = 10.0


def unit_of(method: str) -> str:
    """What method ``method``'s progress counts (its ``unit``; steps for an unknown one)."""
    from importance_tasks.methods import REGISTRY

    cls = REGISTRY.get(method)
    return "steps" if cls is None else cls.unit


def _line(method: str, done: int, total: int, elapsed: float) -> str:
    unit = unit_of(method.split()[0])  # "permutation shard 2": copies
    left = elapsed * (total - done) / done if done else float("nan")
    eta = f", about {left:.0f} s left" if done < total and done else ""
    return f"{method}: {done:,}/{total:,} {unit}, {elapsed:.0f} s{eta}"


class LogProgress:
    """Progress as log lines: the first report, then at most one every ``every_s`` seconds,
    and the last. What an Airflow task's log shows while a method runs."""

    def __init__(
        self, log: Callable[[str], None], method: str, *, every_s: float = LOG_EVERY_S
    ) -> None:
        self.log, self.method, self.every_s = log, method, every_s
        self.start = time.monotonic()
        self.last = -every_s

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < self.every_s:
            return
        self.last = now
        self.log(_line(self.method, done, total, now - self.start))


class TerminalProgress:
    """A live bar per method (tqdm) on ``stream``: work done, elapsed time and ETA."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bars: dict[str, Any] = {}

    def __call__(self, method: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self.bars.get(method)
        if bar is None:
            bar = self.bars[method] = tqdm(
                total=total, desc=method, unit=f" {unit_of(method)}",
                file=self.stream, dynamic_ncols=True, leave=True,
            )  # fmt: skip
        bar.total = max(total, done)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()
