"""The promotion gate's task bodies (the DAG is ``dags/promote_model.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from importance_tasks.airflow.assets import IMPORTANCE_RESULTS

__all__ = ["assess", "record"]


def assess(events: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """The decision on the newest analysed version among the triggering events (several
    analyses finished together are decided by the newest; every event names its own run),
    against the version the alias points to now."""
    from importance_tasks.airflow.mlflow_connection import configure_mlflow
    from importance_tasks.errors import InputError
    from importance_tasks.mlflow_io.aliases import alias_version
    from importance_tasks.mlflow_io.client import connect
    from importance_tasks.promotion import decide
    from importance_tasks.stage.messages import PublishSummary

    found = list(events.get(IMPORTANCE_RESULTS, [])) if events else []
    if not found:
        raise InputError("promote_model runs on an IMPORTANCE_RESULTS event; none triggered it")
    newest = max(found, key=lambda e: e.timestamp)
    extra = dict(newest.extra or {})
    configure_mlflow()
    current = None
    if extra.get("model_name"):
        current = alias_version(connect(None), str(extra["model_name"]), str(params["alias"]))
    decision = decide(
        PublishSummary.from_event(extra),
        require_sanity=bool(params.get("require_sanity", True)),
        min_ndcg=params.get("min_ndcg"),
        current=current,
    )
    return decision.to_dict()


def record(decision: Mapping[str, Any], *, outcome: str, promote: bool, alias: str) -> str:
    """Move the alias (when ``promote``) and tag the version with the outcome."""
    from importance_tasks.airflow.mlflow_connection import configure_mlflow
    from importance_tasks.mlflow_io.aliases import record_decision
    from importance_tasks.mlflow_io.client import connect
    from importance_tasks.promotion import Decision

    configure_mlflow()
    found = Decision.from_dict(decision)
    record_decision(connect(None), found, outcome=outcome, alias=alias, promote=promote)
    return outcome
