"""Provider metadata for Airflow's ``apache_airflow_provider`` entry point: the package as a
provider in ``airflow providers list``, the ``mlflow`` connection type with its hook (the UI's
connection form), and the extra links from any task to its MLflow run and model version.

Kept free of Airflow imports: Airflow reads this in every process that lists providers, and
imports the hook and link classes only when it needs them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    from importance_tasks import __version__

    return {
        "package-name": "importance-tasks",
        "name": "Importance tasks",
        "description": "Feature importance of Keras models in the MLflow registry, as Airflow "
        "tasks: an analysis stage, a registry audit and a promotion gate.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "mlflow",
                "hook-class-name": "importance_tasks.airflow.mlflow_connection.MlflowHook",
                "hook-name": "MLflow",
            }
        ],
        "extra-links": [
            "importance_tasks.airflow.links.MlflowRunLink",
            "importance_tasks.airflow.links.MlflowModelVersionLink",
        ],
    }
