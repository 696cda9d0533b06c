"""Extra links from a task to its MLflow run and model version (registered by the plugin)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink

__all__ = ["RUN_URL_KEY", "VERSION_URL_KEY", "MlflowModelVersionLink", "MlflowRunLink", "urls"]

RUN_URL_KEY = "mlflow_run_url"
VERSION_URL_KEY = "mlflow_model_version_url"


def urls(
    tracking_uri: str, *, experiment_id: str, run_id: str, name: str, version: str
) -> dict[str, str]:
    """Links into the MLflow UI; none for a tracking URI without a UI (a local SQLite file)."""
    if not tracking_uri.startswith(("http://", "https://")):
        return {}
    base = tracking_uri.rstrip("/")
    return {
        RUN_URL_KEY: f"{base}/#/experiments/{experiment_id}/runs/{run_id}",
        VERSION_URL_KEY: f"{base}/#/models/{name}/versions/{version}",
    }


class _XComLink(BaseOperatorLink):
    key = ""

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return str(XCom.get_value(ti_key=ti_key, key=self.key) or "")


class MlflowRunLink(_XComLink):
    name = "MLflow run"
    key = RUN_URL_KEY


class MlflowModelVersionLink(_XComLink):
    name = "MLflow model version"
    key = VERSION_URL_KEY
