"""
### Promotion gate

Runs when the importance stage has analysed a model version (an event on the
`feature_importance_results` Asset, whose extra is the analysis summary). It moves the alias
(Param `alias`, default `champion`) to that version when every method passed its sanity check
and the top features have not drifted from the previous version; otherwise it asks a person
(Airflow's human-in-the-loop approval, in the UI's "Required actions"): **Promote** moves the
alias, **Keep** (or no answer within a day) leaves it. Every decision is tagged on the version
(`importance.promotion`, `importance.promotion_reasons`).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import Param, dag, task

from importance_tasks.airflow import IMPORTANCE_RESULTS
from importance_tasks.airflow.stage_group import RETRY_ARGS

APPROVAL_TIMEOUT = timedelta(days=1)


@dag(
    dag_id="promote_model",
    schedule=[IMPORTANCE_RESULTS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["mlflow", "importance", "promotion"],
    params={
        "alias": Param("champion", type="string", minLength=1, description="Alias to move"),
        "require_sanity": Param(
            True, type="boolean", description="Ask when the analysis ran no sanity check"
        ),
        "min_ndcg": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=1,
            description="Ask below this nDCG@k against the previous version; empty: the "
            "analysis's own drift verdict",
        ),
    },
)
def promote_model() -> None:
    @task(**RETRY_ARGS)
    def assess(params=None, triggering_asset_events=None) -> dict:  # type: ignore[no-untyped-def]
        from importance_tasks.airflow.promotion_tasks import assess

        return assess(triggering_asset_events, params)

    @task.branch
    def route(decision: dict) -> str:
        return {"promote": "promote", "ask": "ask", "skip": "skip"}[decision["action"]]

    @task(**RETRY_ARGS)
    def promote(decision: dict, params=None) -> str:  # type: ignore[no-untyped-def]
        from importance_tasks.airflow.promotion_tasks import record

        alias = params["alias"]
        return record(
            decision, outcome=f"promoted to {alias} (automatic)", promote=True, alias=alias
        )

    @task(**RETRY_ARGS)
    def promote_approved(decision: dict, params=None) -> str:  # type: ignore[no-untyped-def]
        from importance_tasks.airflow.promotion_tasks import record

        alias = params["alias"]
        return record(
            decision, outcome=f"promoted to {alias} (approved)", promote=True, alias=alias
        )

    @task(**RETRY_ARGS)
    def keep(decision: dict, params=None) -> str:  # type: ignore[no-untyped-def]
        from importance_tasks.airflow.promotion_tasks import record

        alias = params["alias"]
        return record(decision, outcome="kept: not approved", promote=False, alias=alias)

    @task
    def skip(decision: dict) -> str:
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


promote_model()
