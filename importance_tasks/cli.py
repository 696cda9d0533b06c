"""Command line: ``importance-tasks explain --model PATH --data FILE --target COLUMN``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from importance_tasks.engine import DEFAULT_METHODS, Analysis
from importance_tasks.methods import REGISTRY

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="importance-tasks", description="Which inputs matter to a Keras model."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    explain = commands.add_parser("explain", help="compute importance and print the ranking")
    explain.add_argument("--model", required=True, help="path to a .keras file")
    explain.add_argument("--data", required=True, help="evaluation table, parquet or CSV")
    explain.add_argument("--target", required=True, help="target column of the table")
    explain.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"comma-separated, from: {', '.join(REGISTRY)} (default: %(default)s)",
    )
    explain.add_argument(
        "--scoring", default="auto", help="mse, mae, r2, log_loss, accuracy, roc_auc"
    )
    explain.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    explain.add_argument("--n-repeats", type=int, default=5, help="permutation repeats")
    explain.add_argument(
        "--max-samples", type=float, default=1.0, help="fraction of rows to use (default: 1.0)"
    )
    explain.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME=COL,COL",
        help="report these columns as one feature (repeatable)",
    )
    explain.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        analysis = _explain(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_ranking(analysis))
    if args.json:
        write_json_atomically(args.json, analysis.as_dict())
        print(f"wrote {args.json}")
    return 0


def _explain(args: argparse.Namespace) -> Analysis:
    from importance_tasks.data import EvalData, load_table
    from importance_tasks.engine import explain
    from importance_tasks.safe_keras import load_keras_file

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    groups = _parse_groups(args.group)
    max_samples: float | int = args.max_samples
    if max_samples > 1:
        max_samples = int(max_samples)
    options: dict[str, dict[str, Any]] = {}
    if "permutation" in methods:
        options["permutation"] = {"n_repeats": args.n_repeats, "max_samples": max_samples}
    if "probe" in methods:
        options["probe"] = {"max_samples": max_samples}
    frame = load_table(args.data)
    model = load_keras_file(args.model)
    data = EvalData.from_frame(frame, target=args.target)
    if model.n_features != len(data.feature_names):
        raise ValueError(
            f"the model takes {model.n_features} inputs but the data has "
            f"{len(data.feature_names)} feature columns: {list(data.feature_names)}"
        )
    return explain(
        model,
        data,
        methods=methods,
        scoring=args.scoring,
        options=options,
        random_state=args.seed,
        groups=groups,
        on_progress=_Progress(sys.stderr),
        skip_unsupported=len(methods) > 1,
    )


def _parse_groups(specs: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, columns = spec.partition("=")
        if not sep or not name or not columns:
            raise ValueError(f"--group {spec!r}: expected NAME=COL,COL,...")
        groups[name] = [c.strip() for c in columns.split(",") if c.strip()]
    return groups


class _Progress:
    """Progress of long methods on stderr, at most a line per second."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = 0.0

    def __call__(self, method: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 1.0:
            return
        self.last = now
        print(f"{method}: {done}/{total} perturbations", file=self.stream, flush=True)


def format_ranking(analysis: Analysis) -> str:
    """A table of features by consensus rank with each method's importance ± std."""
    names = list(analysis.results)
    header = ["rank", "feature", *names]
    order = sorted(
        range(len(analysis.consensus.features)), key=lambda i: analysis.consensus.rank[i]
    )
    lines = []
    for i in order:
        cells = [str(analysis.consensus.rank[i]), analysis.consensus.features[i]]
        for name in names:
            result = analysis.results[name]
            cells.append(f"{result.mean[i]:.4g} ± {result.std[i]:.2g} (#{result.rank[i]})")
        lines.append(cells)
    widths = [max(len(row[c]) for row in [header, *lines]) for c in range(len(header))]
    text = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    text.append("-+-".join("-" * w for w in widths))
    text += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in lines]
    for name, reason in analysis.skipped.items():
        text.append(f"({name} skipped: {reason})")
    return "\n".join(text)


def write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it, so readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


if __name__ == "__main__":
    raise SystemExit(main())
