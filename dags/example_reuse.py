"""
### Reusing the importance stage in another pipeline

A nightly pipeline that, after its own work, adds the whole importance stage for the
`champion` of `diabetes_mlp` in one line, with its own settings.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from importance_tasks.airflow import importance_stage


@dag(
    dag_id="example_reuse",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["mlflow", "example"],
)
def example_reuse() -> None:
    @task
    def upstream_work() -> str:
        return "your pipeline's own steps go here"

    upstream_work() >> importance_stage(
        model="diabetes_mlp@champion", methods=["permutation", "probe"], n_repeats=3
    )


example_reuse()
