"""Errors that say what went wrong and whether retrying can help.

``InputError`` and its subclasses are permanent: the model, the data or the options are wrong
and the same call will fail again (Airflow tasks turn them into ``AirflowFailException``).
``ServiceUnavailableError`` is transient: a retry later may succeed.
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "DataError",
    "ImportanceError",
    "InputError",
    "RegistryError",
    "ServiceUnavailableError",
    "UnsafeModelError",
    "UnsupportedModelError",
]


class ImportanceError(Exception):
    """Base of every error this package raises on purpose."""


class InputError(ImportanceError, ValueError):
    """Bad input: retrying cannot help; the message names the problem and what to do."""


class DataError(InputError):
    """The evaluation data cannot be used with this model."""


class RegistryError(InputError):
    """No such registered model, alias or version; the message lists what does exist."""


class UnsafeModelError(InputError):
    """The model file would run code on load; it was refused before any of it ran."""


class UnsupportedModelError(InputError):
    """The method cannot work on this kind of model (the message says which kind it needs)."""


class AccessDeniedError(InputError):
    """The MLflow user is not authenticated, or lacks a permission; the message names which."""


class ServiceUnavailableError(ImportanceError):
    """The MLflow server (or another service) could not be reached; retrying may help."""
