"""How a command ends when it fails: one line on stderr and an exit code that says whether
trying again can help."""

from __future__ import annotations

import sys

from importance_tasks.errors import ServiceUnavailableError

__all__ = ["failed"]


def failed(exc: Exception, *, what: str = "") -> int:
    """Print why a command failed and return its exit code: 3 when trying again later can
    help (a service is unavailable), 2 when it cannot (bad input, missing data)."""
    if isinstance(exc, ServiceUnavailableError):
        print(f"error (try again later): {what}{exc}", file=sys.stderr)
        return 3
    print(f"error: {what}{exc}", file=sys.stderr)
    return 2
