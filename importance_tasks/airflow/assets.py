"""The Asset a training pipeline updates when it registers a model version."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset

__all__ = ["REGISTERED_MODEL_VERSIONS", "model_version_event", "requests_from_events"]

REGISTERED_MODEL_VERSIONS = Asset(
    name="mlflow_registered_model_versions", uri="mlflow://registry/model-versions"
)


def model_version_event(name: str, version: str | int) -> dict[str, str]:
    """The ``extra`` of an Asset event naming one registered model version."""
    return {"model_name": name, "model_version": str(version)}


def requests_from_events(events: Any) -> list[dict[str, Any]]:
    """One analysis request per event on ``REGISTERED_MODEL_VERSIONS`` (several may arrive)."""
    requests = []
    for event in events.get(REGISTERED_MODEL_VERSIONS, []) if events else []:
        extra = event.extra or {}
        if extra.get("model_name") and extra.get("model_version"):
            model = {"name": extra["model_name"], "version": str(extra["model_version"])}
            requests.append({"model": model})
    return requests
