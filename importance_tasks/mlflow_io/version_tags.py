"""The ``importance.*`` tags of a model version: reading them, setting them safely, and the
status of a version that cannot be analysed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from importance_tasks.mlflow_io import runs

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["VersionTags", "mark_unanalysable", "set_version_tag"]


@dataclass(frozen=True)
class VersionTags:
    """The ``importance.*`` tags of a model version that point to its analysis."""

    RUN_ID = "importance.run_id"
    TOP_FEATURES = "importance.top_features"
    STATUS = "importance.status"
    CONFIG = "importance.config"
    TOP_RANKS = "importance.top_ranks"
    DRIFT = "importance.drift"
    REASON = "importance.reason"

    run_id: str | None
    status: str | None
    config: str | None
    top_features: str
    top_ranks: str = ""
    drift: str | None = None

    @classmethod
    def read(cls, client: MlflowClient, name: str, version: str) -> VersionTags:
        tags = client.get_model_version(name, version).tags
        return cls(
            run_id=tags.get(cls.RUN_ID),
            status=tags.get(cls.STATUS),
            config=tags.get(cls.CONFIG),
            top_features=tags.get(cls.TOP_FEATURES, ""),
            top_ranks=tags.get(cls.TOP_RANKS, ""),
            drift=tags.get(cls.DRIFT),
        )

    def as_dict(self) -> dict[str, str | None]:
        found = {
            self.RUN_ID: self.run_id,
            self.STATUS: self.status,
            self.CONFIG: self.config,
            self.TOP_FEATURES: self.top_features,
            self.TOP_RANKS: self.top_ranks,
        }
        if self.drift is not None:
            found[self.DRIFT] = self.drift
        return found

    def is_current(self, config_digest: str) -> bool:
        """A complete analysis with this configuration is recorded on the version."""
        return self.status == "complete" and self.config == config_digest and bool(self.run_id)


def mark_unanalysable(
    client: MlflowClient,
    name: str,
    version: str,
    model_id: str | None,
    *,
    status: str,
    reason: str,
) -> bool:
    """Tag a version that cannot be analysed (``importance.status`` ``needs_data`` or
    ``unsupported``, ``importance.reason`` one line), and its LoggedModel. A version whose
    status is ``complete`` keeps its analysis of record: returns False and tags nothing."""
    if VersionTags.read(client, name, version).status == "complete":
        return False
    line = " ".join(reason.split())[:4900]
    set_version_tag(client, name, version, VersionTags.REASON, line)
    set_version_tag(client, name, version, VersionTags.STATUS, status)
    if model_id:
        client.set_logged_model_tags(
            model_id, {VersionTags.REASON: line, VersionTags.STATUS: status}
        )
    return True


def set_version_tag(client: MlflowClient, name: str, version: str, key: str, value: str) -> None:
    """Set a version tag; when two tasks that finish the same analysis set it at the same moment,
    MLflow's SQL store can refuse the second insert (a unique-constraint race inside its
    delete-then-insert). Both write the same value, so setting it once more settles it."""
    from mlflow.exceptions import MlflowException

    try:
        client.set_model_version_tag(name, version, key, value)
    except MlflowException as exc:
        if not runs.is_duplicate(exc):
            raise
        client.set_model_version_tag(name, version, key, value)
