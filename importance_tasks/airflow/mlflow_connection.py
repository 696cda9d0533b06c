"""The MLflow tracking URI and credentials, from the Airflow connection ``mlflow_default``.

Connection fields: ``host`` holds a full URI (``http://mlflow:5000``, ``sqlite:////data/m.db``)
or a host name with ``schema`` (http/https) and ``port``; ``login``/``password`` are MLflow
basic-auth credentials. Without the connection, ``MLFLOW_TRACKING_URI`` (and MLflow's own
``MLFLOW_TRACKING_USERNAME``/``PASSWORD``) apply. Airflow masks connection passwords in task
logs; they are passed to MLflow through the task process's environment only.
"""

from __future__ import annotations

import os

__all__ = ["CONNECTION_ID", "configure_mlflow"]

CONNECTION_ID = "mlflow_default"


def configure_mlflow(conn_id: str = CONNECTION_ID) -> str | None:
    """Set up this process for MLflow and return the tracking URI (None when unconfigured)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return os.environ.get("MLFLOW_TRACKING_URI") or None
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
