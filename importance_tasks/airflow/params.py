"""The analysis settings as DAG Params (the trigger form), generated from ``AnalysisConfig``.

Every setting of the configuration becomes a Param with its default, help and JSON schema;
``method_options`` gets the schema built from the methods' signatures, so the trigger form
refuses an unknown option or a wrong type before a run starts. ``experiment`` (where the run
is logged) is the one input beside them.
"""

from __future__ import annotations

from airflow.sdk import Param

from importance_tasks.config import settings
from importance_tasks.contract import DEFAULT_EXPERIMENT

__all__ = ["analysis_params"]


def analysis_params() -> dict[str, Param]:
    """One Param per analysis setting, and ``experiment``."""
    params: dict[str, Param] = {}
    for setting in settings():
        params[setting.name] = Param(setting.default, description=setting.help, **setting.schema)
    params["experiment"] = Param(
        DEFAULT_EXPERIMENT, type="string", minLength=1, description="MLflow experiment of the run"
    )
    return params
