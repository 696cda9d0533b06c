"""``importance-tasks dags install DIR``: the shipped DAGs as thin files in a DAG folder."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_dags_parser", "run_dags"]


def add_dags_parser(commands: Any) -> None:
    dags = commands.add_parser("dags", help="the DAGs this package ships")
    actions = dags.add_subparsers(dest="dags_command", required=True)
    install = actions.add_parser(
        "install",
        help="write thin files for the analysis, audit, promotion and monitor DAGs into a DAG "
        "folder",
        description="Write feature_importance.py, registry_audit.py, promote_model.py and "
        "importance_monitor.py into DIR: each imports its DAG from the installed package with "
        "your defaults. Run again after an upgrade: files you have not changed are updated, "
        "changed ones are kept.",
    )
    install.add_argument("folder", metavar="DIR", help="the DAG folder (created if missing)")
    install.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="[DAG.]PARAM=VALUE",
        dest="defaults",
        help="a Param's default (VALUE as JSON, else a string), for every shipped DAG that "
        "has the Param or for DAG only; repeatable (e.g. --set methods='[\"permutation\"]' "
        "--set promote_model.alias=production)",
    )
    install.add_argument(
        "--schedule",
        action="append",
        default=[],
        metavar="DAG=SCHEDULE",
        help="a DAG's schedule, a cron expression or preset (e.g. --schedule "
        "importance_monitor=@daily; the monitor has none unless given); repeatable",
    )
    install.add_argument(
        "--notifier",
        action="append",
        default=[],
        metavar="DAG=MODULE:NAME",
        help="an Airflow notifier your code defines, called when the DAG alarms (e.g. "
        "--notifier importance_monitor=team_alerts:slack_drift); repeatable",
    )
    install.add_argument(
        "--force", action="store_true", help="overwrite files you changed since they were written"
    )


def run_dags(args: argparse.Namespace) -> int:
    from importance_tasks.airflow.dag_files import install_dags

    try:
        done = install_dags(
            args.folder, defaults=_defaults(args.defaults),
            args=_factory_args(args.schedule, args.notifier), force=args.force,
        )  # fmt: skip
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    kept = [item for item in done if item.action == "kept"]
    for item in done:
        print(f"{item.action:9} {item.path}")
    if kept:
        print(
            f"{len(kept)} file(s) changed since they were written were kept; "
            "--force overwrites them",
            file=sys.stderr,
        )
        return 1
    return 0


def _defaults(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``[DAG.]PARAM=VALUE`` flags as each shipped DAG's defaults: a bare PARAM goes to every
    DAG that has it, and must exist in at least one."""
    from importance_tasks.airflow.shipped_dags import SHIPPED_PARAMS

    params = {dag_id: set(of_dag()) for dag_id, of_dag in SHIPPED_PARAMS.items()}
    chosen: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set {pair!r}: expected [DAG.]PARAM=VALUE")
        dag_id, dot, param = name.strip().rpartition(".")
        targets = [dag_id] if dot else [d for d, names in params.items() if param in names]
        if not targets or (dot and dag_id not in params):
            raise ValueError(
                f"--set {name.strip()}: no shipped DAG has that Param; the DAGs are "
                f"{sorted(params)} (`airflow dags details` lists their Params)"
            )
        for target in targets:
            chosen.setdefault(target, {})[param] = _value(text)
    return chosen


def _factory_args(schedules: list[str], notifiers: list[str]) -> dict[str, Any]:
    """``--schedule DAG=SCHEDULE`` and ``--notifier DAG=MODULE:NAME`` flags by DAG."""
    from importance_tasks.airflow.dag_files import FactoryArgs

    chosen: dict[str, dict[str, Any]] = {}
    for flag, pairs in (("--schedule", schedules), ("--notifier", notifiers)):
        for pair in pairs:
            dag_id, sep, value = pair.partition("=")
            if not sep or not dag_id.strip() or not value.strip():
                raise ValueError(f"{flag} {pair!r}: expected DAG=VALUE")
            found = chosen.setdefault(dag_id.strip(), {"schedule": None, "notifiers": []})
            if flag == "--schedule":
                found["schedule"] = value.strip()
            else:
                found["notifiers"].append(value.strip())
    return {
        dag_id: FactoryArgs(found["schedule"], tuple(found["notifiers"]))
        for dag_id, found in chosen.items()
    }


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
