"""Command line: ``importance-tasks explain --model PATH --data FILE --target COLUMN``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from importance_tasks.analysis import Analysis, by_output, explain_outputs
from importance_tasks.cli.dags_command import add_dags_parser, run_dags
from importance_tasks.cli.exits import failed
from importance_tasks.cli.keras_file import keras_file_heads
from importance_tasks.cli.output_capture import import_keras_quietly
from importance_tasks.cli.verify_command import add_verify_parser, run_verify
from importance_tasks.config import AnalysisConfig, settings
from importance_tasks.contract import DEFAULT_EXPERIMENT
from importance_tasks.effects.interaction import acts_together
from importance_tasks.errors import InputError, ServiceUnavailableError
from importance_tasks.keras.heads import Head
from importance_tasks.methods import REGISTRY
from importance_tasks.mlflow_io.client import connect
from importance_tasks.mlflow_io.webhooks import register_webhook
from importance_tasks.progress import TerminalProgress
from importance_tasks.ranking.ranks import consensus_cells
from importance_tasks.setting_schema import Setting
from importance_tasks.stage import load_inputs, run_stage
from importance_tasks.tables import write_text_atomically

__all__ = [
    "config_from_args",
    "format_ranking",
    "main",
    "write_json_atomically",
]


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
        "--data",
        help="evaluation table (parquet or CSV; path or MLflow artifact URI), or windows of a "
        "sequence model (.npz: X (windows, steps, variables) and y)",
    )
    explain.add_argument(
        "--target",
        action="append",
        type=_names,
        metavar="COLUMN",
        help="target column of the table; for a model with several outputs one per output "
        "analysed (repeated, or A,B), matched by the outputs' names, else in their order",
    )
    analysis = explain.add_argument_group("analysis settings")
    for setting in settings():
        _add_setting(analysis, setting)
    explain.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    shown = explain.add_mutually_exclusive_group()
    shown.add_argument(
        "--top", type=int, default=DEFAULT_TOP, metavar="N",
        help=f"features shown in the table, by consensus rank (default: {DEFAULT_TOP})",
    )  # fmt: skip
    shown.add_argument("--all", action="store_true", help="show every feature in the table")
    registry = explain.add_argument_group("MLflow (with --model models:/...)")
    registry.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)"
    )
    registry.add_argument(
        "--log", action="store_true", help="log the analysis to MLflow (run, metrics, tags)"
    )
    registry.add_argument(
        "--experiment", default=DEFAULT_EXPERIMENT, help="experiment of the analysis run"
    )
    registry.add_argument(
        "--trust-pyfunc",
        action="store_true",
        help="allow non-Keras pyfunc models (MLflow unpickles them: trusted models only)",
    )
    hook = commands.add_parser(
        "register-webhook",
        help="register (or update) the MLflow registry webhook that starts analyses",
        description="Create or update the MLflow webhook named importance_tasks that sends "
        "model_version.created and model_version_alias.created to the Airflow receiver.",
    )
    hook.add_argument(
        "--url", required=True, help="the receiver: http(s)://AIRFLOW/importance/mlflow"
    )
    hook.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    hook.add_argument(
        "--secret-env",
        default="IMPORTANCE_WEBHOOK_SECRET",
        metavar="VAR",
        help="environment variable holding the shared secret, the same as Airflow's Variable "
        "importance_mlflow_webhook_secret (default: IMPORTANCE_WEBHOOK_SECRET)",
    )
    add_dags_parser(commands)
    add_verify_parser(commands)
    return parser


def _register_webhook(args: argparse.Namespace) -> int:

    secret = os.environ.get(args.secret_env)
    if not secret:
        print(f"error: set {args.secret_env} to the webhook's secret", file=sys.stderr)
        return 2
    webhook_id = register_webhook(connect(args.tracking_uri), url=args.url, secret=secret)
    print(f"webhook {webhook_id} sends new versions and moved aliases to {args.url}")
    return 0


DEFAULT_TOP = 15
# Settings whose value is an object are given piece by piece, with a repeatable flag.
_REPEATED = {
    "groups": ("--group", "NAME=COL,COL"),
    "clusters": ("--cluster", "NAME=COL,COL"),
    "method_options": ("--option", "METHOD.KEY=VALUE"),
}


def _add_setting(parser: Any, setting: Setting) -> None:
    """One flag per setting of ``AnalysisConfig``, typed by its JSON schema; an absent flag
    leaves the setting at its default."""
    kind = setting.schema["type"]
    kinds = set(kind) if isinstance(kind, list) else {kind}
    dest = setting.name
    if setting.name in _REPEATED:
        flag, metavar = _REPEATED[setting.name]
        shown = f"{setting.help}; one {metavar} at a time (repeatable)"
        parser.add_argument(flag, dest=dest, action="append", metavar=metavar, help=shown)
        return
    flag = "--" + setting.name.replace("_", "-")
    if "boolean" in kinds:
        parser.add_argument(
            flag,
            dest=dest,
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"{setting.help} (default: {'on' if setting.default else 'off'})",
        )
        return
    shown = setting.help
    if setting.default is not None:  # a None default is explained by the help itself
        shown += f" (default: {_shown(setting.default)})"
    if "array" in kinds:
        parser.add_argument(flag, dest=dest, type=_names, metavar="A,B,...", help=shown)
    elif "object" in kinds:  # one value, or one per name: NAME=VALUE,NAME=VALUE
        parser.add_argument(flag, dest=dest, type=_value_or_mapping, help=shown)
    elif "integer" in kinds:
        parser.add_argument(flag, dest=dest, type=int, help=shown)
    elif "number" in kinds:
        parser.add_argument(flag, dest=dest, type=float, help=shown)
    else:
        choices = setting.schema.get("enum")
        parser.add_argument(flag, dest=dest, choices=choices, help=shown)


def _shown(default: Any) -> str:
    return ",".join(map(str, default)) if isinstance(default, list) else str(default)


def _value_or_mapping(text: str) -> str | dict[str, str]:
    if "=" not in text:
        return text
    pairs = [part.partition("=") for part in _names(text)]
    return {name.strip(): value.strip() for name, _, value in pairs}


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # MLflow draws a progress bar per downloaded artifact: most of the output, none of it news.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if args.command == "register-webhook":
        return _register_webhook(args)
    if args.command == "dags":
        return run_dags(args)
    if args.command == "verify":
        return run_verify(args)
    try:
        analyses, extra = _explain(args)
    except KeyboardInterrupt:
        print("interrupted: nothing more was logged; run again to continue", file=sys.stderr)
        return 130
    except (InputError, FileNotFoundError, ServiceUnavailableError) as exc:
        return failed(exc)
    top = None if args.all else args.top
    for key, analysis in analyses.items():
        if len(analyses) > 1:
            print(f"\noutput {key}:")
        print(format_ranking(analysis, top=top))
    for key, value in extra.items():
        print(f"{key}: {value}")
    if args.json:
        write_json_atomically(args.json, {**by_output(analyses), **extra})
        print(f"wrote {args.json}")
    return 0


def config_from_args(args: argparse.Namespace) -> AnalysisConfig:
    """The analysis configuration the flags ask for (``InputError`` when they are bad)."""
    values = {s.name: getattr(args, s.name) for s in settings()}
    values["groups"] = _parse_groups(args.groups or [])
    values["clusters"] = _parse_groups(args.clusters or [])
    values["method_options"] = _parse_options(args.method_options or [])
    return AnalysisConfig.from_settings(values)


def _explain(args: argparse.Namespace) -> tuple[dict[str, Analysis], dict[str, Any]]:
    """Each output's analysis (one for a model with one output) and what to print beside."""
    config = config_from_args(args)
    targets = [name for names in args.target or [] for name in names]
    target = targets[0] if len(targets) == 1 else targets or None
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import_keras_quietly()
    registered = args.model.startswith("models:/")
    if args.log and not registered:
        raise InputError("--log needs a registered model: --model models:/NAME@ALIAS")
    if registered and args.log:
        plan, analyses = run_stage(
            args.model,
            config,
            tracking_uri=args.tracking_uri,
            data_uri=args.data,
            target=target,
            experiment=args.experiment,
            trust_pyfunc=args.trust_pyfunc,
        )
        why = plan.untagged or "these settings are not the stage's configuration of record"
        tags = (
            "set (the analysis of record)"
            if plan.tag_version
            else f"left as they were: {why} (--tag-version sets them)"
        )
        return analyses, {
            "run_id": plan.run_id,
            "model_version": plan.model.version,
            **plan.provenance(),
            "version_tags": tags,
        }
    extra: dict[str, Any] = {}
    if registered:
        inputs = load_inputs(
            connect(args.tracking_uri),
            args.model,
            data_uri=args.data,
            target=target,
            trust_pyfunc=args.trust_pyfunc,
            feature_names=config.feature_names,
            columns_in_model_order=True,  # nothing is logged: a warning says when unchecked
            windowing=config.windowing,
        )
        inputs.check_scoring(config)
        heads = [
            (Head(key, 0, t), *inputs.for_output(key if inputs.heads else None))
            for key, t in (inputs.outputs or {inputs.target: inputs.target}).items()
        ]
        for line in inputs.source.warnings():
            print(f"warning: {line}", file=sys.stderr)
        extra = {
            "data_source": inputs.source.data_source,
            "target_source": inputs.source.target_source,
            "feature_names_checked": inputs.source.names_checked,
        }
    else:
        heads, extra = keras_file_heads(args.model, args.data, config, targets)
    analyses = explain_outputs(
        heads,
        config,
        on_progress=TerminalProgress(sys.stderr),
        skip_unsupported=len(config.methods) > 1,
    )
    return analyses, extra


def _parse_groups(specs: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, columns = spec.partition("=")
        if not sep or not name or not columns:
            raise InputError(f"--group {spec!r}: expected NAME=COL,COL,...")
        groups[name] = _names(columns)
    return groups


def _parse_options(specs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``METHOD.KEY=VALUE`` pairs; VALUE is read as JSON when it is JSON (60, 0.5, true, null,
    "text"), else as a string (median)."""
    options: dict[str, dict[str, Any]] = {}
    for spec in specs:
        target, sep, text = spec.partition("=")
        method, dot, key = target.partition(".")
        if not sep or not dot or not method or not key:
            raise InputError(
                f"--option {spec!r}: expected METHOD.KEY=VALUE, e.g. shap.max_evals=60"
            )
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        options.setdefault(method, {})[key] = value
    return options


def format_ranking(analysis: Analysis, *, top: int | None = DEFAULT_TOP) -> str:
    """A table of the ``top`` features by consensus rank (all with None) and each method's
    importance, narrow enough for a terminal (seven methods fit 100 columns); each method's
    own ranks, spreads and intervals are in the JSON and the report."""
    names = list(analysis.results)
    consensus = analysis.consensus
    barely = analysis.negligible
    short = {n: REGISTRY[n].label if n in REGISTRY else n for n in names}
    header = ["rank", "interval", "feature", "type", *short.values()]
    order = sorted(range(len(consensus.features)), key=lambda i: consensus.rank[i])
    shown = order if top is None else order[:top]
    lines = []
    for i in shown:
        feature = consensus.features[i]
        label = f"{feature}~" if feature in barely else feature
        cells = [*consensus_cells(consensus, i)[:2], label, analysis.row_type(feature)]
        for name in names:
            result = analysis.results[name]
            cells.append(f"{result.mean[i]:.2g}")
        lines.append(cells)
    widths = [max(len(row[c]) for row in [header, *lines]) for c in range(len(header))]
    text = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    text.append("  ".join("-" * w for w in widths))
    text += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in lines
    ]
    if len(shown) < len(order):
        text.append(f"({len(order) - len(shown)} more features: --top N or --all)")
    abbreviated = [f"{short[n]} = {n}" for n in names if short[n] != n]
    if abbreviated:
        text.append("(" + ", ".join(abbreviated) + ")")
    k = consensus.intervals.k
    text.append(
        f"(=N: too close to call, 95% rank intervals overlap; chance of top {k}: JSON, report)"
    )
    for name, reason in analysis.skipped.items():
        text.append(f"({name} skipped: {reason})")
    for name, reason in consensus.excluded.items():
        text.append(f"({name} left out of the consensus: {reason})")
    if barely:
        text.append(f"negligible (~: barely used, by every method): {', '.join(barely)}")
    if analysis.unseen:
        counts = ", ".join(f"{c} in {n} rows" for c, n in analysis.unseen.items())
        text.append(f"values the model's lookups have no entry for (analysed as unknown): {counts}")
    steps = analysis.steps
    if steps.interactions is not None:
        pairs = [p for p in steps.pairs if acts_together(p)][:3]
        together = [f"{' x '.join(p.features)} {p.strength:.2g}, {p.h2:.2f}" for p in pairs]
        text.append(
            "acting together (strength on the output's scale, H²): "
            + ("; ".join(together) or "no pair: additive among the top features")
        )
    ways = [f"{n} {e.direction}" for n, e in steps.effects.items() if n not in barely]
    if ways:
        text.append("which way: " + ", ".join(ways))
    if analysis.dependence is not None and analysis.dependence.clusters:
        text.append(
            "clusters of dependent features: "
            + "; ".join(", ".join(c) for c in analysis.dependence.clusters)
        )
    for name, result in analysis.results.items():
        verdict = result.diagnostics.get("sanity")
        if verdict and "spearman" in verdict:
            state = "passed" if verdict["passed"] else "FAILED: " + verdict.get("reason", "")
            labels = verdict.get("labels")
            kept = f"; labels shuffled: {labels['ratio']:.0%} kept" if labels else ""
            text.append(
                f"sanity check {name}: {state} (Spearman {verdict['spearman']:.2f} with a "
                f"randomised model{kept})"
            )
    return "\n".join(text)


def write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON whole or not at all (``atomic_file.write_text_atomically``)."""
    write_text_atomically(path, json.dumps(payload, indent=2))
