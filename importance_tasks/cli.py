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
from importance_tasks.errors import DataError, InputError, ServiceUnavailableError
from importance_tasks.methods import REGISTRY

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="importance-tasks", description="Which inputs matter to a Keras model."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    explain = commands.add_parser("explain", help="compute importance and print the ranking")
    explain.add_argument(
        "--model",
        required=True,
        help="a .keras file, or a registered model: models:/NAME@ALIAS or models:/NAME/VERSION",
    )
    explain.add_argument(
        "--data", help="evaluation table (parquet or CSV; path or MLflow artifact URI)"
    )
    explain.add_argument("--target", help="target column of the table")
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
    explain.add_argument(
        "--sanity-check",
        action="store_true",
        help="also run each method on a randomised copy of the model and flag methods whose "
        "ranking does not change (doubles the cost)",
    )
    explain.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    registry = explain.add_argument_group("MLflow (with --model models:/...)")
    registry.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)"
    )
    registry.add_argument(
        "--log", action="store_true", help="log the analysis to MLflow (run, metrics, tags)"
    )
    registry.add_argument(
        "--experiment", default="importance", help="experiment of the analysis run"
    )
    registry.add_argument(
        "--trust-pyfunc",
        action="store_true",
        help="allow non-Keras pyfunc models (MLflow unpickles them: trusted models only)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        analysis, extra = _explain(args)
    except (InputError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ServiceUnavailableError as exc:
        print(f"error (try again later): {exc}", file=sys.stderr)
        return 3
    print(format_ranking(analysis))
    for key, value in extra.items():
        print(f"{key}: {value}")
    if args.json:
        write_json_atomically(args.json, {**analysis.as_dict(), **extra})
        print(f"wrote {args.json}")
    return 0


def _options(args: argparse.Namespace, methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    max_samples: float | int = args.max_samples
    if max_samples > 1:
        max_samples = int(max_samples)
    options: dict[str, dict[str, Any]] = {}
    if "permutation" in methods:
        options["permutation"] = {"n_repeats": args.n_repeats, "max_samples": max_samples}
    if "probe" in methods:
        options["probe"] = {"max_samples": max_samples}
    return options


def _explain(args: argparse.Namespace) -> tuple[Analysis, dict[str, str]]:
    from importance_tasks.data import read_eval_data
    from importance_tasks.engine import explain

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    groups = _parse_groups(args.group)
    options = _options(args, methods)
    registered = args.model.startswith("models:/")
    if args.log and not registered:
        raise InputError("--log needs a registered model: --model models:/NAME@ALIAS")
    if registered and args.log:
        from importance_tasks.stage import analyze

        plan, analysis = analyze(
            args.model,
            tracking_uri=args.tracking_uri,
            data_uri=args.data,
            target=args.target,
            methods=methods,
            options=options,
            seed=args.seed,
            scoring=args.scoring,
            groups=groups,
            experiment=args.experiment,
            trust_pyfunc=args.trust_pyfunc,
            sanity_check=args.sanity_check,
        )
        return analysis, {"run_id": plan.run_id, "model_version": plan.model_version}
    if registered:
        from importance_tasks.stage import load_inputs

        model, data = load_inputs(
            args.model,
            tracking_uri=args.tracking_uri,
            data_uri=args.data,
            target=args.target,
            trust_pyfunc=args.trust_pyfunc,
        )
    else:
        from importance_tasks.safe_keras import load_keras_file

        if not args.data or not args.target:
            raise InputError("--data and --target are needed with a .keras file")
        model = load_keras_file(args.model)
        data = read_eval_data(args.data, target=args.target)
        if model.n_features != len(data.feature_names):
            raise DataError(
                f"the model takes {model.n_features} inputs but the data has "
                f"{len(data.feature_names)} feature columns: {list(data.feature_names)}"
            )
    analysis = explain(
        model,
        data,
        methods=methods,
        scoring=args.scoring,
        options=options,
        random_state=args.seed,
        groups=groups,
        on_progress=_Progress(sys.stderr),
        skip_unsupported=len(methods) > 1,
        sanity_check=args.sanity_check,
    )
    return analysis, {}


def _parse_groups(specs: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, columns = spec.partition("=")
        if not sep or not name or not columns:
            raise InputError(f"--group {spec!r}: expected NAME=COL,COL,...")
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
    for name, result in analysis.results.items():
        verdict = result.settings.get("sanity")
        if verdict and "spearman" in verdict:
            state = "passed" if verdict["passed"] else "FAILED: ranking barely changes"
            text.append(
                f"sanity check {name}: {state} (Spearman {verdict['spearman']:.2f} with a "
                "randomised model)"
            )
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
