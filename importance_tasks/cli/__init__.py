"""The command line (``importance-tasks``) and ``make demo``, the stage on an embedded default."""

from importance_tasks.cli.commands import main

__all__ = ["main"]
