"""Airflow glue: the stage as a task group, the Asset training pipelines emit, MLflow config.

Importing ``importance_tasks`` never imports this subpackage (nor Airflow); DAG files do.
Importing the subpackage itself imports no Airflow either: its names load on first use, since
Airflow reads ``importance_tasks.airflow.provider`` (the provider entry point) while its own
configuration is still loading.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "IMPORTANCE_RESULTS": "assets",
    "REGISTERED_MODEL_VERSIONS": "assets",
    "model_version_event": "assets",
    "importance_stage": "stage_group",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
