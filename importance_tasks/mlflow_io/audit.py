"""Registry audit: which versions lack a current analysis, and the audit table of all of them."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from importance_tasks import contract
from importance_tasks.errors import InputError
from importance_tasks.mlflow_io import runs
from importance_tasks.mlflow_io.analysis_run import AnalysisRun
from importance_tasks.mlflow_io.version_tags import VersionTags
from importance_tasks.ranking.comparison import Comparison

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "AUDIT_COLUMNS",
    "AuditRow",
    "audit_rows",
    "find_versions",
    "log_audit",
    "needs_analysis",
    "tag_verified",
    "verified",
]

AUDIT_COLUMNS = (
    "model", "version", "status", "top_features", "previous_version", "spearman", "ndcg",
    "drifted", "movers", "run_id", "verified",
)  # fmt: skip


def find_versions(
    client: MlflowClient,
    *,
    name_pattern: str = "*",
    tag: str | None = None,
    alias: str | None = None,
) -> list[tuple[str, str]]:
    """Registered (model, version) pairs matching a glob on the name, a ``key=value`` version
    tag, and/or an alias, oldest version first within each model."""
    if tag is not None and "=" not in tag:
        raise InputError(f"tag filter {tag!r} must be KEY=VALUE")
    key, _, value = (tag or "").partition("=")
    found: list[tuple[str, str]] = []
    for model in client.search_registered_models(max_results=1000):
        if not fnmatch.fnmatchcase(model.name, name_pattern):
            continue
        aliased = {str(v) for a, v in (model.aliases or {}).items() if a == alias}
        versions = client.search_model_versions(f"name = '{model.name}'")
        for mv in sorted(versions, key=lambda v: int(v.version)):
            if alias is not None and str(mv.version) not in aliased:
                continue
            if tag is not None and mv.tags.get(key) != value:
                continue
            found.append((model.name, str(mv.version)))
    return found


def needs_analysis(client: MlflowClient, name: str, version: str, config_hash: str) -> bool:
    """True unless the version's tags point to a complete run with this configuration."""
    return not VersionTags.read(client, name, version).is_current(config_hash)


@dataclass(frozen=True)
class AuditRow:
    model: str
    version: str
    status: str
    top_features: str
    previous_version: str
    spearman: float | None
    ndcg: float | None
    drifted: str
    movers: str
    run_id: str
    verified: str = ""  # the verdict when the audit computed the run again

    def values(self) -> list[Any]:
        return [getattr(self, c) for c in AUDIT_COLUMNS]


def audit_rows(
    client: MlflowClient,
    versions: Sequence[tuple[str, str]],
    analysed_now: set[tuple[str, str]],
    config_hash: str,
) -> list[AuditRow]:
    """One row per version: its status now, top features, and change against the previous."""
    rows = []
    for name, version in versions:
        tags = VersionTags.read(client, name, version)
        run_id = tags.run_id or ""
        current = tags.is_current(config_hash)
        if not current:
            asked = (name, version) in analysed_now
            status = contract.AuditStatus.FAILED if asked else contract.AuditStatus.MISSING
        else:
            asked = (name, version) in analysed_now
            status = contract.AuditStatus.ANALYSED if asked else contract.AuditStatus.UP_TO_DATE
        found = _comparisons(AnalysisRun(client, run_id)) if current and run_id else {}
        compared = list(found.values())
        movers = ", ".join(
            f"{f if o is None else f'{o}/{f}'} {m:+d}" for o, (_, c) in found.items()
            for f, m in c.movers()
        )  # fmt: skip
        rows.append(
            AuditRow(
                model=name,
                version=version,
                status=status,
                top_features=tags.top_features if current else "",
                previous_version=compared[0][0] if compared else "",
                spearman=min(c.spearman for _, c in compared) if compared else None,
                ndcg=min(c.ndcg for _, c in compared) if compared else None,
                drifted=("yes" if any(c.drifted for _, c in compared) else "no")
                if compared
                else "",
                movers=movers,
                run_id=run_id if current else "",
            )
        )
    return rows


def _comparisons(run: AnalysisRun) -> dict[str | None, tuple[str, Comparison]]:
    """Each output's comparison with the previous version (one output: under None); an
    analysis of several outputs has drifted when any output has."""
    found = {o: run.of_output(o).comparison() for o in run.outputs() or [None]}
    return {o: c for o, c in found.items() if c is not None}


def log_audit(
    client: MlflowClient,
    *,
    experiment: str,
    rows: Sequence[AuditRow],
    files: Mapping[str, str],
    settings: Mapping[str, Any],
) -> str:
    """One audit run holding the table (and its HTML page); returns its run id."""
    from mlflow.entities import Param

    experiment_id = runs.experiment_id(client, experiment)
    run_id = client.create_run(experiment_id, run_name=contract.AUDIT_RUN_NAME).info.run_id
    client.log_batch(
        run_id,
        params=[Param("settings", json.dumps(dict(settings), sort_keys=True, default=str))],
    )
    counts: dict[str, float] = {contract.Metric.AUDIT_VERSIONS: float(len(rows))}
    for row in rows:
        key = contract.audit_metric(contract.AuditStatus(row.status))
        counts[key] = counts.get(key, 0.0) + 1
    runs.log_metrics(client, run_id, counts)
    runs.log_artifacts(client, run_id, files)
    client.set_terminated(run_id, status="FINISHED")
    return run_id


def verified(client: MlflowClient, run_id: str) -> str | None:
    """The verdict of the audit's last verification of an analysis run, or None."""
    return client.get_run(run_id).data.tags.get(contract.RunTag.VERIFIED)


def tag_verified(client: MlflowClient, run_id: str, verdict: str) -> None:
    """Record a verification's verdict on the analysis run (MLflow keeps 5,000 characters
    of a tag; 500 are plenty)."""
    client.set_tag(run_id, contract.RunTag.VERIFIED, verdict[:500])
