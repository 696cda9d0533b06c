"""Errors that say what went wrong and whether retrying can help.

``InputError`` and its subclasses are permanent: the model, the data or the options are wrong
and the same call will fail again (Airflow tasks turn them into ``AirflowFailException``).
``ServiceUnavailableError`` is transient: a retry later may succeed; so is
``DataNotReadyError`` (a window of new data not written yet).
"""

from __future__ import annotations

from importance_tasks.contract import VersionStatus

__all__ = [
    "AccessDeniedError",
    "DataError",
    "DataNotReadyError",
    "ImportanceError",
    "InputError",
    "MissingPackageError",
    "NeedsDataError",
    "RegistryError",
    "ServiceUnavailableError",
    "UnsafeModelError",
    "UnsupportedModelError",
    "is_retryable",
    "unanalysable_status",
]

# MLflow error codes that say the request itself is wrong: the same request fails again.
PERMANENT_MLFLOW_CODES = frozenset(
    {
        "RESOURCE_DOES_NOT_EXIST",
        "INVALID_PARAMETER_VALUE",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
        "BAD_REQUEST",
        "INVALID_STATE",
    }
)


class ImportanceError(Exception):
    """Base of every error this package raises on purpose."""


class InputError(ImportanceError, ValueError):
    """Bad input: retrying cannot help; the message names the problem and what to do."""


class DataError(InputError):
    """The evaluation data cannot be used with this model."""


class NeedsDataError(DataError):
    """The model version lacks what an analysis needs and only its owner can log: evaluation
    data with a readable source, its target column, or the names of the model's inputs."""


class RegistryError(InputError):
    """No such registered model, alias or version; the message lists what does exist."""


class UnsafeModelError(InputError):
    """The model file would run code on load; it was refused before any of it ran."""


class MissingPackageError(InputError, ImportError):
    """A package the work needs is not installed; the message says what to install."""


class UnsupportedModelError(InputError):
    """The method cannot work on this kind of model (the message says which kind it needs)."""


class AccessDeniedError(InputError):
    """The MLflow user is not authenticated, or lacks a permission; the message names which."""


class ServiceUnavailableError(ImportanceError):
    """The MLflow server (or another service) could not be reached; retrying may help."""


class DataNotReadyError(ImportanceError):
    """A window of new data is not there yet: worth waiting for (the monitor retries)."""


def is_retryable(exc: BaseException) -> bool:
    """Whether a later retry of the same call may succeed.

    No for bad input (``InputError`` and its subclasses) and for an MLflow error whose code
    says the request is wrong (a missing resource, a bad parameter, a missing permission);
    yes for data not there yet (``DataNotReadyError``), an unreachable service
    (``ServiceUnavailableError``, connection errors, timeouts, MLflow's other codes) and for
    anything unforeseen, which the scheduler's bounded retries then limit. MLflow's exceptions
    are recognised by their ``error_code`` without importing MLflow here.
    """
    if isinstance(exc, ServiceUnavailableError | DataNotReadyError):
        return True
    if isinstance(exc, InputError):
        return False
    code = getattr(exc, "error_code", None)
    if isinstance(code, str):
        return code not in PERMANENT_MLFLOW_CODES
    return True


def unanalysable_status(exc: BaseException) -> str | None:
    """The ``importance.status`` of a version that ``exc`` says cannot be analysed as it is
    registered: ``needs_data`` (no readable evaluation data, no target, no column names) or
    ``unsupported`` (a model the stage does not take); None for any other error."""
    if isinstance(exc, NeedsDataError):
        return VersionStatus.NEEDS_DATA
    if isinstance(exc, (UnsupportedModelError, UnsafeModelError)):
        return VersionStatus.UNSUPPORTED
    return None
