"""
### Registry audit

Walks the MLflow model registry (all models, or those matching a name pattern, a version tag
or an alias), analyses every version that lacks a complete importance run for the current
settings, and logs an audit table (model, version, status, top features, rank correlation with
the previous version, largest movers) to a run in the `importance-audit` experiment.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from importance_tasks.airflow import importance_stage
from importance_tasks.airflow.params import analysis_params
from importance_tasks.airflow.stage_group import RETRY_ARGS


@dag(
    dag_id="registry_audit",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["mlflow", "importance", "audit"],
    params={
        "name_pattern": Param("*", type="string", description="Glob on registered model names"),
        "tag": Param(None, type=["null", "string"], description="Version tag filter KEY=VALUE"),
        "alias": Param(None, type=["null", "string"], description="Only versions with this alias"),
        **analysis_params(),
        "audit_experiment": Param("importance-audit", type="string", minLength=1),
    },
)
def registry_audit() -> None:
    @task(multiple_outputs=True, **RETRY_ARGS)
    def find_versions(params=None) -> dict:  # type: ignore[no-untyped-def]
        from importance_tasks.airflow.audit_tasks import stale_versions

        return stale_versions(params)

    @task(trigger_rule="all_done", **RETRY_ARGS)
    def audit_table(found: dict, params=None) -> str:  # type: ignore[no-untyped-def]
        from importance_tasks.airflow.audit_tasks import log_audit_table

        return log_audit_table(found, params)

    found = find_versions()
    analysed = importance_stage(requests=found["requests"], group_id="analysis")
    analysed >> audit_table(found)


registry_audit()
