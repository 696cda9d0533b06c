"""Airflow plugin: links from every importance task to its MLflow run and model version."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from importance_tasks.airflow.links import MlflowModelVersionLink, MlflowRunLink


class ImportancePlugin(AirflowPlugin):
    name = "importance_tasks"
    # AirflowPlugin declares its extension points as class attributes.
    global_operator_extra_links = [MlflowRunLink(), MlflowModelVersionLink()]  # noqa: RUF012
