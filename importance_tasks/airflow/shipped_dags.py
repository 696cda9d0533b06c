"""The DAGs the package ships, as factories: the analysis (``feature_importance``), the
registry audit (``registry_audit``), the promotion gate (``promote_model``) and the monitor
(``importance_monitor``, in ``monitor_dag``).

A deployment's DAG folder holds thin files that call these (``importance-tasks dags install``
writes them), each with the deployment's own defaults for the DAG's Params: ``defaults`` maps a
Param's name to its new default, checked against the Param's schema when the file is parsed.
``importance_stage(...)`` builds the analysis into a team's own DAGs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, dag, task

from importance_tasks.airflow.assets import IMPORTANCE_RESULTS, REGISTERED_MODEL_VERSIONS
from importance_tasks.airflow.monitor_dag import importance_monitor_dag, importance_monitor_params
from importance_tasks.airflow.params import START, analysis_params, model_params, with_defaults
from importance_tasks.airflow.stage_group import COMPUTE_SLOTS, RETRY_ARGS, importance_stage
from importance_tasks.contract import AUDIT_EXPERIMENT
from importance_tasks.promotion import MIN_NDCG

__all__ = [
    "SHIPPED_DAGS",
    "SHIPPED_PARAMS",
    "feature_importance_dag",
    "importance_monitor_dag",
    "promote_model_dag",
    "registry_audit_dag",
]

APPROVAL_TIMEOUT = timedelta(days=1)

ANALYSIS_DOC = """
### Feature importance of a registered Keras model

Which inputs matter to a model in the MLflow registry, by several methods in parallel.

* **resolve** pins the model version (an alias is resolved once), finds and checks the
  evaluation data, and opens (or finds again) the analysis run in MLflow.
* **compute** runs the methods (and row shards of large data) as mapped tasks, packed by their
  estimated cost: cheap methods share a task, an expensive one gets its own, and there are at
  most `compute_slots` of them (default: the worker's processors), since each task pays about
  9 s of start-up (TensorFlow, model and data). The packing is in `plan`'s log.
* **aggregate** combines the rankings (consensus, agreement between methods, comparison with
  the previous version).
* **publish** writes the report and the manifest, and tags the model version.

Runs when a training pipeline updates the `mlflow_registered_model_versions` Asset (it
analyses exactly the versions in the events), or by hand with the Params below.
"""

AUDIT_DOC = """
### Registry audit

Walks the MLflow model registry (all models, or those matching a name pattern, a version tag
or an alias), analyses every version that lacks a complete importance run for the current
settings, and logs an audit table (model, version, status, top features, rank correlation with
the previous version, largest movers) to a run in the `importance-audit` experiment.
"""

PROMOTION_DOC = """
### Promotion gate

Runs when the importance stage has analysed a model version (an event on the
`feature_importance_results` Asset, whose extra is the analysis summary). It moves the alias
(Param `alias`, default `champion`) to that version when every method passed its sanity check
and the top features have not drifted from the previous version; otherwise it asks a person
(Airflow's human-in-the-loop approval, in the UI's "Required actions"): **Promote** moves the
alias, **Keep** (or no answer within a day) leaves it. Every decision is tagged on the version
(`importance.promotion`, `importance.promotion_reasons`).
"""


def feature_importance_params() -> dict[str, Param]:
    """The analysis DAG's Params: the model, its data and target, and every analysis setting."""
    return {
        **model_params(alias=None, target_help="Target column"),
        "data_uri": Param(
            None,
            type=["null", "string"],
            description="Evaluation table (parquet/CSV path or MLflow artifact URI); "
            "empty: the data the model's run logged",
        ),
        "compute_slots": Param(
            None,
            **COMPUTE_SLOTS,
            description="Most compute tasks per analysis; empty: the worker's processors",
        ),
        **analysis_params(),
    }


def registry_audit_params() -> dict[str, Param]:
    """The audit DAG's Params: which versions, the analysis settings, the audit's experiment."""
    return {
        "name_pattern": Param("*", type="string", description="Glob on registered model names"),
        "tag": Param(None, type=["null", "string"], description="Version tag filter KEY=VALUE"),
        "alias": Param(None, type=["null", "string"], description="Only versions with this alias"),
        **analysis_params(),
        "audit_experiment": Param(AUDIT_EXPERIMENT, type="string", minLength=1),
        "verify_sample": Param(
            0,
            type="integer",
            minimum=0,
            description="Earlier analyses to compute again per audit (importance-tasks verify): "
            "the up-to-date versions not verified yet; the verdict is tagged on the run",
        ),
    }


def promote_model_params() -> dict[str, Param]:
    """The promotion gate's Params."""
    return {
        "alias": Param("champion", type="string", minLength=1, description="Alias to move"),
        "require_sanity": Param(
            True, type="boolean", description="Ask when the analysis ran no sanity check"
        ),
        "min_ndcg": Param(
            None,
            **MIN_NDCG,
            description="Ask below this nDCG@k against the previous version; empty: the "
            "analysis's own drift verdict",
        ),
    }


def feature_importance_dag(
    *, dag_id: str = "feature_importance", defaults: Mapping[str, Any] | None = None
) -> DAG:
    """The analysis DAG, run by registry events (the Asset) or by hand with its Params."""
    params = feature_importance_params()

    @dag(
        dag_id=dag_id,
        schedule=[REGISTERED_MODEL_VERSIONS],
        start_date=START,
        catchup=False,
        max_active_runs=4,
        doc_md=ANALYSIS_DOC,
        tags=["mlflow", "importance"],
        params=with_defaults(dag_id, params, defaults),
    )
    def feature_importance() -> None:
        importance_stage(group_id="analysis")

    return feature_importance()


def registry_audit_dag(
    *,
    dag_id: str = "registry_audit",
    schedule: str | None = "@daily",
    defaults: Mapping[str, Any] | None = None,
) -> DAG:
    """The audit DAG: analyses every stale version, then logs the audit table."""
    params = registry_audit_params()

    @dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        doc_md=AUDIT_DOC,
        tags=["mlflow", "importance", "audit"],
        params=with_defaults(dag_id, params, defaults),
    )
    def registry_audit() -> None:
        @task(multiple_outputs=True, **RETRY_ARGS)
        def find_versions(params=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
            from importance_tasks.airflow.audit_tasks import stale_versions

            return stale_versions(params)

        @task(trigger_rule="all_done", **RETRY_ARGS)
        def audit_table(found: dict[str, Any], params=None) -> str:  # type: ignore[no-untyped-def]
            from importance_tasks.airflow.audit_tasks import log_audit_table

            return log_audit_table(found, params)

        found: Any = find_versions()  # an XComArg, indexed by key (multiple_outputs)
        analysed = importance_stage(requests=found["requests"], group_id="analysis")
        analysed >> audit_table(found)

    return registry_audit()


def promote_model_dag(
    *, dag_id: str = "promote_model", defaults: Mapping[str, Any] | None = None
) -> DAG:
    """The promotion gate: promote, ask a person, or skip, for each analysed version."""
    from airflow.providers.standard.operators.hitl import HITLBranchOperator

    params = promote_model_params()

    @dag(
        dag_id=dag_id,
        schedule=[IMPORTANCE_RESULTS],
        start_date=START,
        catchup=False,
        doc_md=PROMOTION_DOC,
        tags=["mlflow", "importance", "promotion"],
        params=with_defaults(dag_id, params, defaults),
    )
    def promote_model() -> None:
        @task(**RETRY_ARGS)
        def assess(params=None, triggering_asset_events=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
            from importance_tasks.airflow.promotion_tasks import assess

            return assess(triggering_asset_events, params)

        @task.branch
        def route(decision: dict[str, Any]) -> str:
            return {"promote": "promote", "ask": "ask", "skip": "skip"}[decision["action"]]

        @task(**RETRY_ARGS)
        def promote(decision: dict[str, Any], params=None) -> str:  # type: ignore[no-untyped-def]
            from importance_tasks.airflow.promotion_tasks import record

            alias = params["alias"]
            return record(
                decision, outcome=f"promoted to {alias} (automatic)", promote=True, alias=alias
            )

        @task(**RETRY_ARGS)
        def promote_approved(decision: dict[str, Any], params=None) -> str:  # type: ignore[no-untyped-def]
            from importance_tasks.airflow.promotion_tasks import record

            alias = params["alias"]
            return record(
                decision, outcome=f"promoted to {alias} (approved)", promote=True, alias=alias
            )

        @task(**RETRY_ARGS)
        def keep(decision: dict[str, Any], params=None) -> str:  # type: ignore[no-untyped-def]
            from importance_tasks.airflow.promotion_tasks import record

            alias = params["alias"]
            return record(decision, outcome="kept: not approved", promote=False, alias=alias)

        @task
        def skip(decision: dict[str, Any]) -> str:
            return f"nothing to decide: {'; '.join(decision['reasons'])}"

        decision = assess()
        ask = HITLBranchOperator(
            task_id="ask",
            subject="Promote {{ ti.xcom_pull('assess')['model_name'] }} version "
            "{{ ti.xcom_pull('assess')['model_version'] }} to {{ params.alias }}?",
            body="Not promoted at once: {{ ti.xcom_pull('assess')['reasons'] | join('; ') }}. "
            "The importance report is in MLflow run {{ ti.xcom_pull('assess')['run_id'] }}.",
            options=["Promote", "Keep"],
            options_mapping={"Promote": "promote_approved", "Keep": "keep"},
            defaults=["Keep"],
            response_timeout=APPROVAL_TIMEOUT,
        )
        route(decision) >> [promote(decision), ask, skip(decision)]
        ask >> [promote_approved(decision), keep(decision)]

    return promote_model()


SHIPPED_PARAMS: dict[str, Callable[[], dict[str, Param]]] = {
    "feature_importance": feature_importance_params,
    "registry_audit": registry_audit_params,
    "promote_model": promote_model_params,
    "importance_monitor": importance_monitor_params,
}
"""Each shipped DAG's Params (without building the DAG)."""

SHIPPED_DAGS: dict[str, Callable[..., DAG]] = {
    "feature_importance": feature_importance_dag,
    "registry_audit": registry_audit_dag,
    "promote_model": promote_model_dag,
    "importance_monitor": importance_monitor_dag,
}
"""Each shipped DAG's default id and its factory."""
