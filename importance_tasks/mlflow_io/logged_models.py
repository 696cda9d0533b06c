"""The analysed versions of a model through their LoggedModels: MLflow 3's search over the
importance metrics that ``AnalysisRun`` links to each version's ``model_id`` and evaluation
dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING

from importance_tasks import contract
from importance_tasks.contract import VersionStatus, VersionTag
from importance_tasks.methods import Permutation
from importance_tasks.mlflow_io.registry import model_id_of

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["versions_by_importance"]


def versions_by_importance(
    client: MlflowClient, name: str, feature: str, *, method: str = Permutation.name
) -> list[tuple[str, float]]:
    """The versions of ``name`` with a complete analysis, by ``method``'s importance of
    ``feature`` on the evaluation data (highest first): ``search_logged_models`` over the
    metrics linked to each version's LoggedModel. Returns (version, importance) pairs."""
    key = contract.metric_key("importance", method, feature)
    versions = {
        model_id: str(v.version)
        for v in client.search_model_versions(f"name = '{name}'")
        if (model_id := model_id_of(v)) is not None
    }
    if not versions:
        return []
    experiments = sorted({client.get_logged_model(m).experiment_id for m in versions})
    found = client.search_logged_models(
        experiment_ids=experiments,
        filter_string=f"tags.`{VersionTag.STATUS}` = '{VersionStatus.COMPLETE}'",
        order_by=[
            {
                "field_name": f"metrics.{key}",
                "ascending": False,
                "dataset_name": contract.EVALUATION_DATASET,
            }
        ],
    )
    return [
        (versions[m.model_id], next(x.value for x in m.metrics or [] if x.key == key))
        for m in found
        if m.model_id in versions and any(x.key == key for x in m.metrics or [])
    ]
