"""The analysis settings as DAG Params (the trigger form), generated from ``AnalysisConfig``.

Every setting of the configuration becomes a Param with its default, help and JSON schema;
``method_options`` gets the schema built from the methods' signatures, so the trigger form
refuses an unknown option or a wrong type before a run starts. ``experiment`` (where the run
is logged) is the one input beside them. ``with_defaults`` applies a deployment's defaults to
a DAG's Params.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pendulum
from airflow.sdk import Param

from importance_tasks.config import settings
from importance_tasks.contract import DEFAULT_EXPERIMENT

__all__ = ["START", "analysis_params", "model_params", "with_defaults"]

# The shipped DAGs' start date (none catches up unless asked).
START = pendulum.datetime(2026, 1, 1, tz="UTC")


def model_params(*, alias: str | None, target_help: str) -> dict[str, Param]:
    """The Params naming a registered model (by ``model_alias``, default ``alias``, or
    ``model_version``) and its data's target column(s)."""
    return {
        "model_name": Param(None, type=["null", "string"], description="Registered model name"),
        "model_alias": Param(
            alias, type=["null", "string"], description="Alias, e.g. champion (or give a version)"
        ),
        "model_version": Param(
            None, type=["null", "string"], pattern=r"^[0-9]+$", description="Version number"
        ),
        "target": Param(
            None,
            type=["null", "string", "array"],
            items={"type": "string"},
            description=f"{target_help}; for a model with several outputs, one per output "
            "(a list, or names separated by commas)",
        ),
    }


def analysis_params() -> dict[str, Param]:
    """One Param per analysis setting, and ``experiment``."""
    params: dict[str, Param] = {}
    for setting in settings():
        params[setting.name] = Param(setting.default, description=setting.help, **setting.schema)
    params["experiment"] = Param(
        DEFAULT_EXPERIMENT, type="string", minLength=1, description="MLflow experiment of the run"
    )
    return params


def with_defaults(
    dag_id: str, params: Mapping[str, Param], defaults: Mapping[str, Any] | None
) -> dict[str, Param]:
    """``params`` with the defaults a deployment chose; a name that is not a Param of the DAG,
    or a value its schema refuses, is an error that names the DAG and the Param."""
    chosen = dict(params)
    for name, value in (defaults or {}).items():
        if name not in chosen:
            raise ValueError(f"{dag_id} has no Param {name!r}; its Params are {sorted(chosen)}")
        param = chosen[name]
        changed = Param(value, description=param.description, **param.schema)
        try:
            changed.resolve(suppress_exception=False)
        except Exception as exc:  # Airflow's ParamValidationError: say which DAG and Param
            raise ValueError(f"{dag_id}: default {value!r} for {name!r} is refused: {exc}") from exc
        chosen[name] = changed
    return chosen
