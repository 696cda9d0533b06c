"""The promotion gate's writes: move an alias, and record every decision on the version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from importance_tasks.contract import VersionTag
from importance_tasks.promotion import Decision

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["alias_version", "record_decision"]


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version ``alias`` of model ``name`` points to, or None when it is not set."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def record_decision(
    client: MlflowClient, decision: Decision, *, outcome: str, alias: str, promote: bool
) -> None:
    """Move ``alias`` to the decided version when ``promote``, then tag the version with the
    ``outcome`` (``promoted to champion (automatic)``, ``kept: not approved``, ...) and the
    reasons it was not promoted at once. The alias moves first: a tag that says promoted is
    never there without the alias."""
    name, version = decision.model_name, decision.model_version
    if promote:
        client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, VersionTag.PROMOTION, outcome)
    reasons = "; ".join(decision.reasons) or "every check passed"
    client.set_model_version_tag(name, version, VersionTag.PROMOTION_REASONS, reasons)
