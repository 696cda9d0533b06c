"""The promotion gate's writes: move an alias, and record every decision on the version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from importance_tasks.promotion import Decision

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["PROMOTION_REASONS_TAG", "PROMOTION_TAG", "record_decision"]

PROMOTION_TAG = "importance.promotion"
PROMOTION_REASONS_TAG = "importance.promotion_reasons"


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
    client.set_model_version_tag(name, version, PROMOTION_TAG, outcome)
    reasons = "; ".join(decision.reasons) or "every check passed"
    client.set_model_version_tag(name, version, PROMOTION_REASONS_TAG, reasons)
