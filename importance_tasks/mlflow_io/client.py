"""The MLflow client: which server, bounded retries, and errors that say what happened."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from importance_tasks.errors import (
    AccessDeniedError,
    InputError,
    ServiceUnavailableError,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "HTTP_RETRY_DEFAULTS",
    "access",
    "connect",
    "package_versions",
    "tracking_uri_from_env",
]

# MLflow's own defaults retry a dead server for minutes (7 retries, backoff factor 2). A
# pipeline task should fail fast and let the scheduler retry it: a few quick retries here.
HTTP_RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
HEALTH_TIMEOUT_S = 5.0
# A server that is restarting or briefly overloaded (connection refused, 5xx) is asked again
# after 1, 2 and 4 s: a task then fails within about 7 s (plus timeouts) when it stays down.
HEALTH_BACKOFF_S = (1.0, 2.0, 4.0)


def tracking_uri_from_env() -> str | None:
    return os.environ.get("MLFLOW_TRACKING_URI") or None


def connect(tracking_uri: str | None) -> MlflowClient:
    """An ``MlflowClient`` for ``tracking_uri`` (default: ``MLFLOW_TRACKING_URI``), checked.

    Raises
    ------
    InputError
        When no tracking URI is given or set.
    ServiceUnavailableError
        When an HTTP tracking server does not answer its ``/health`` endpoint.
    """
    uri = tracking_uri or tracking_uri_from_env()
    if not uri:
        raise InputError(
            "no MLflow tracking URI: pass --tracking-uri, set MLFLOW_TRACKING_URI, or configure "
            "the Airflow connection 'mlflow_default'"
        )
    for key, value in HTTP_RETRY_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if uri.startswith(("http://", "https://")):
        _check_health(uri)
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _check_health(uri: str) -> None:
    import time

    import requests

    problem = ""
    for delay in (*HEALTH_BACKOFF_S, None):
        try:
            response = requests.get(f"{uri.rstrip('/')}/health", timeout=HEALTH_TIMEOUT_S)
        except requests.RequestException as exc:
            problem = f"cannot be reached ({type(exc).__name__})"
        else:
            if response.status_code < 500:
                return
            problem = f"answered {response.status_code} on /health"
        if delay is not None:
            time.sleep(delay)
    raise ServiceUnavailableError(
        f"the MLflow server at {uri} {problem}, {len(HEALTH_BACKOFF_S) + 1} times over "
        f"{sum(HEALTH_BACKOFF_S):.0f} s; is `mlflow server` running, and is the tracking URI "
        "right? Retrying the task later may help."
    )


@contextmanager
def access(action: str, permission: str) -> Iterator[None]:
    """Turn MLflow's 401/403 during ``action`` into an ``AccessDeniedError`` that names the
    user and the ``permission`` the action needs (never the password)."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        if exc.error_code == "UNAUTHENTICATED":
            raise AccessDeniedError(
                f"the MLflow server refused the credentials of user {user!r} while trying to "
                f"{action}: set login and password on the Airflow connection 'mlflow_default', "
                "or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
            ) from None
        if exc.error_code == "PERMISSION_DENIED":
            raise AccessDeniedError(
                f"MLflow user {user!r} lacks the {permission} permission needed to {action}; "
                "ask an MLflow admin to grant it"
            ) from None
        raise


def package_versions() -> dict[str, str]:
    """Versions of the packages an analysis depends on (logged as a run param)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in (
        "importance_tasks",
        "tensorflow-cpu",
        "tensorflow",
        "jax",
        "jaxlib",
        "torch",
        "keras",
        "mlflow",
        "scikit-learn",
        "numpy",
        "pandas",
    ):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found
