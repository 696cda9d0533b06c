"""``importance-tasks verify RUN_ID``: compute a logged analysis again and compare.

Exit 0 when every method gives the same numbers (within the tolerance it prints), 1 when one
differs (named, with by how much), 2 when it cannot run (the run incomplete, its data gone or
changed: said which).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["add_verify_parser", "run_verify"]


def add_verify_parser(commands: Any) -> None:
    verify = commands.add_parser(
        "verify",
        help="compute a logged analysis again and say whether it gives the same numbers",
        description="Read the analysis logged in RUN_ID (model version, data and its digest, "
        "settings, seed, the work each method did), compute every method again and compare "
        "with the run's metrics and tables. Exit 0: identical; 1: a method differs; 2: it "
        "cannot run (data gone or changed, run incomplete).",
    )
    verify.add_argument("run_id", metavar="RUN_ID", help="the analysis run's id")
    verify.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    verify.add_argument("--json", type=Path, help="also write the verdict as JSON to this file")


def run_verify(args: argparse.Namespace) -> int:
    from importance_tasks.cli.exits import failed
    from importance_tasks.cli.output_capture import import_keras_quietly
    from importance_tasks.errors import InputError, ServiceUnavailableError
    from importance_tasks.stage.verify import verification_summary, verify
    from importance_tasks.tables import write_text_atomically

    import_keras_quietly()
    try:
        found = verify(args.run_id, tracking_uri=args.tracking_uri)
    except (InputError, FileNotFoundError, ServiceUnavailableError) as exc:
        return failed(exc, what="cannot verify: ")
    print(found.report())
    if args.json:
        write_text_atomically(args.json, json.dumps(verification_summary(found), indent=2))
    return 0 if found.identical else 1
