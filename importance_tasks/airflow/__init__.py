"""Airflow glue: the stage as a task group, the Asset training pipelines emit, MLflow config.

Importing ``importance_tasks`` never imports this subpackage (nor Airflow); DAG files do.
"""

from importance_tasks.airflow.assets import (
    IMPORTANCE_RESULTS,
    REGISTERED_MODEL_VERSIONS,
    model_version_event,
)
from importance_tasks.airflow.stage_group import importance_stage

__all__ = [
    "IMPORTANCE_RESULTS",
    "REGISTERED_MODEL_VERSIONS",
    "importance_stage",
    "model_version_event",
]
