"""Airflow plugin: links from every importance task to its MLflow run and model version, and
the MLflow registry webhook receiver mounted in the API server at ``/importance/mlflow``.

Registered through the ``airflow.plugins`` entry point: installing the package is enough, no
file in the plugins folder (a copy there would be a second plugin of the same name, which
Airflow skips and reports as an import error)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from importance_tasks.airflow.links import MlflowModelVersionLink, MlflowRunLink
from importance_tasks.airflow.webhook_app import app


class ImportancePlugin(AirflowPlugin):
    name = "importance_tasks"
    # AirflowPlugin declares its extension points as class attributes.
    global_operator_extra_links = [MlflowRunLink(), MlflowModelVersionLink()]  # noqa: RUF012
    fastapi_apps = [  # noqa: RUF012
        {"app": app, "url_prefix": "/importance", "name": "MLflow registry webhook receiver"}
    ]
