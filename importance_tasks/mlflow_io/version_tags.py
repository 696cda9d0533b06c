"""The ``importance.*`` tags of a model version: reading them, setting them safely, and the
status of a version that cannot be analysed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from importance_tasks.contract import VersionStatus, VersionTag, tag_kind
from importance_tasks.mlflow_io import runs

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["VersionTags", "mark_unanalysable", "set_version_tag", "stale_tags"]


@dataclass(frozen=True)
class VersionTags:
    """The ``importance.*`` tags of a model version that point to its analysis."""

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
            run_id=tags.get(VersionTag.RUN_ID),
            status=tags.get(VersionTag.STATUS),
            config=tags.get(VersionTag.CONFIG),
            top_features=tags.get(VersionTag.TOP_FEATURES) or _per_output(tags),
            top_ranks=tags.get(VersionTag.TOP_RANKS, ""),
            drift=tags.get(VersionTag.DRIFT),
        )

    def as_dict(self) -> dict[str, str | None]:
        found = {
            VersionTag.RUN_ID: self.run_id,
            VersionTag.STATUS: self.status,
            VersionTag.CONFIG: self.config,
            VersionTag.TOP_FEATURES: self.top_features,
            VersionTag.TOP_RANKS: self.top_ranks,
        }
        if self.drift is not None:
            found[VersionTag.DRIFT] = self.drift
        return found

    def is_current(self, config_digest: str) -> bool:
        """A complete analysis with this configuration is recorded on the version."""
        return (
            self.status == VersionStatus.COMPLETE
            and self.config == config_digest
            and bool(self.run_id)
        )


def _per_output(tags: dict[str, str]) -> str:
    """The top features of an analysis of several outputs, ``price: a,b; churn: c,d``."""
    top = _kind(VersionTag.TOP_FEATURES)
    return "; ".join(
        f"{read[0]}: {value}"
        for key, value in tags.items()
        if (read := tag_kind(key)) is not None and read[0] is not None and read[1] == top
    )


def _kind(tag: str) -> str:
    read = tag_kind(tag)
    assert read is not None, tag
    return read[1]


def stale_tags(tags: dict[str, str], new: dict[str, str]) -> list[str]:
    """The top features, top ranks, drift and directions tags (of any output) that a new
    analysis's tags ``new`` do not set again: left from an earlier analysis, they would
    mislead."""
    kinds = {_kind(t) for t in VersionTag.PER_OUTPUT}
    return [
        key
        for key in tags
        if (read := tag_kind(key)) is not None and read[1] in kinds and key not in new
    ]


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
    if VersionTags.read(client, name, version).status == VersionStatus.COMPLETE:
        return False
    line = " ".join(reason.split())[:4900]
    set_version_tag(client, name, version, VersionTag.REASON, line)
    set_version_tag(client, name, version, VersionTag.STATUS, status)
    if model_id:
        client.set_logged_model_tags(model_id, {VersionTag.REASON: line, VersionTag.STATUS: status})
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
