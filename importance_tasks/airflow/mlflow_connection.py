"""The MLflow tracking URI and credentials, from an Airflow connection of type ``mlflow``
(``mlflow_default`` unless a task names another).

Connection fields: ``host`` holds a full URI (``http://mlflow:5000``, ``sqlite:////data/m.db``)
or a host name with ``schema`` (http/https) and ``port``; ``login``/``password`` are MLflow
basic-auth credentials. Without the connection, ``MLFLOW_TRACKING_URI`` (and MLflow's own
``MLFLOW_TRACKING_USERNAME``/``PASSWORD``) apply. Airflow masks connection passwords in task
logs; they are passed to MLflow through the task process's environment only. The connection
type (``MlflowHook``) comes with the package's provider metadata, so the UI's connection form
offers "MLflow" with these fields.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import BaseHook

__all__ = ["CONNECTION_ID", "MlflowHook", "configure_mlflow"]

CONNECTION_ID = "mlflow_default"


class MlflowHook(BaseHook):
    """An MLflow tracking server as an Airflow connection."""

    conn_name_attr = "mlflow_conn_id"
    default_conn_name = CONNECTION_ID
    conn_type = "mlflow"
    hook_name = "MLflow"

    def __init__(self, mlflow_conn_id: str = CONNECTION_ID) -> None:
        super().__init__()
        self.mlflow_conn_id = mlflow_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["extra"],
            "relabeling": {
                "host": "Tracking URI or host",
                "schema": "Scheme",
                "login": "Username",
            },
            "placeholders": {"host": "http://mlflow:5000", "schema": "http (with a host name)"},
        }

    def tracking_uri(self) -> str:
        """The connection's tracking URI; its credentials go into this process's environment."""
        conn = self.get_connection(self.mlflow_conn_id)
        host = conn.host or ""
        if "://" in host or host.startswith("sqlite:"):
            uri = host
        else:
            scheme = conn.schema or "http"
            uri = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
        if conn.login:
            os.environ["MLFLOW_TRACKING_USERNAME"] = conn.login
        if conn.password:
            os.environ["MLFLOW_TRACKING_PASSWORD"] = conn.password
        return uri


def configure_mlflow(conn_id: str = CONNECTION_ID) -> str | None:
    """Set up this process for MLflow and return the tracking URI (None when unconfigured)."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return MlflowHook(conn_id).tracking_uri()
    except AirflowNotFoundException:
        return os.environ.get("MLFLOW_TRACKING_URI") or None
