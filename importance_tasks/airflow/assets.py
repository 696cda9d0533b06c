"""The Assets of the stage: the one a training pipeline (or the MLflow webhook receiver)
updates when a model version is registered, and the one the stage updates when it has analysed
a version (its event's ``extra`` is the analysis summary a promotion gate reads), and the one
the monitor updates when a deployed version's importance drifted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset

if TYPE_CHECKING:
    from importance_tasks.stage.messages import Request

__all__ = [
    "IMPORTANCE_DRIFT",
    "IMPORTANCE_RESULTS",
    "REGISTERED_MODEL_VERSIONS",
    "model_version_event",
    "requests_from_events",
]

REGISTERED_MODEL_VERSIONS = Asset(
    name="mlflow_registered_model_versions", uri="mlflow://registry/model-versions"
)


IMPORTANCE_RESULTS = Asset(name="feature_importance_results", uri="mlflow://importance/analyses")

# Updated by the monitor when a window's importance drifted (one Asset for every model: the
# event's ``extra`` names the model, version, window, drifted features and monitoring run).
IMPORTANCE_DRIFT = Asset(name="feature_importance_drift", uri="mlflow://importance/monitor")


def model_version_event(
    name: str, version: str | int, *, alias: str | None = None, **extra: str
) -> dict[str, str]:
    """The ``extra`` of an Asset event naming one registered model version (and the alias
    that moved to it, for an alias event)."""
    event = {"model_name": name, "model_version": str(version), **extra}
    if alias:
        event["alias"] = alias
    return event


def requests_from_events(events: Any) -> list[Request]:
    """One analysis request per event on ``REGISTERED_MODEL_VERSIONS`` (several may arrive)."""
    from importance_tasks.stage.messages import Request

    requests = []
    for event in events.get(REGISTERED_MODEL_VERSIONS, []) if events else []:
        extra = event.extra or {}
        if extra.get("model_name") and extra.get("model_version"):
            requests.append(Request.of_version(extra["model_name"], extra["model_version"]))
    return requests
