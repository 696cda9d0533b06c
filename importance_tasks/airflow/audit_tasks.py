"""The registry audit's two task bodies (the DAG file stays thin)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from importance_tasks.airflow.mlflow_connection import configure_mlflow
from importance_tasks.contract import AUDIT_PAGE, AUDIT_TABLE, AuditStatus

__all__ = ["log_audit_table", "stale_versions"]

if TYPE_CHECKING:
    from importance_tasks.mlflow_io.audit import AuditRow


def _config_digest(params: Mapping[str, Any]) -> str:
    from importance_tasks.airflow.stage_group import stage_settings
    from importance_tasks.config import AnalysisConfig

    return AnalysisConfig.from_settings(stage_settings({}, params)).digest()


def stale_versions(params: Mapping[str, Any]) -> dict[str, Any]:
    """All versions in scope, and an analysis request for each that lacks a current run."""
    from importance_tasks.mlflow_io.audit import find_versions, needs_analysis
    from importance_tasks.mlflow_io.client import connect
    from importance_tasks.stage.messages import Request

    client = connect(configure_mlflow())
    digest = _config_digest(params)
    versions = find_versions(
        client, name_pattern=params["name_pattern"], tag=params["tag"], alias=params["alias"]
    )
    stale = [(n, v) for n, v in versions if needs_analysis(client, n, v, digest)]
    return {
        "versions": [list(v) for v in versions],
        "requests": [Request.of_version(n, v).to_dict() for n, v in stale],
        "config_hash": digest,
    }


def log_audit_table(found: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """Log the audit table (CSV and HTML) to an audit run; returns the run id."""
    from importance_tasks.airflow.links import urls
    from importance_tasks.contract import REPORT
    from importance_tasks.mlflow_io.analysis_run import AnalysisRun
    from importance_tasks.mlflow_io.audit import AUDIT_COLUMNS, audit_rows, log_audit
    from importance_tasks.mlflow_io.client import connect
    from importance_tasks.report.document import audit_csv, audit_html
    from importance_tasks.stage.messages import Request

    tracking_uri = configure_mlflow()
    client = connect(tracking_uri)
    versions = [(str(n), str(v)) for n, v in found["versions"]]
    asked = [Request.from_dict(r).model for r in found["requests"]]
    analysed_now = {(spec.name, str(spec.version)) for spec in asked}
    rows = audit_rows(client, versions, analysed_now, found["config_hash"])
    rows = _verified(client, rows, int(params.get("verify_sample") or 0))
    links: list[str | None] = []
    for row in rows:
        if not row.run_id:
            links.append(None)
            continue
        run = AnalysisRun(client, row.run_id)
        found_urls = urls(
            client.tracking_uri,
            experiment_id=run.experiment_id,
            run_id=row.run_id,
            name=row.model,
            version=row.version,
        )
        links.append(
            f"{found_urls['mlflow_run_url']}/artifacts/{REPORT}"
            if found_urls
            else run.artifact_uri(REPORT)
        )
    table = [row.values() for row in rows]
    return log_audit(
        client,
        experiment=params["audit_experiment"],
        rows=rows,
        files={
            AUDIT_TABLE: audit_csv(AUDIT_COLUMNS, table),
            AUDIT_PAGE: audit_html(AUDIT_COLUMNS, table, report_links=links),
        },
        settings={**params, "config_hash": found["config_hash"]},
    )


def _verified(client: Any, rows: list[AuditRow], sample: int) -> list[AuditRow]:
    """The rows with up to ``sample`` earlier analyses computed again (``stage.verify``):
    the up-to-date versions whose run has no verdict yet, in the table's order, so that
    successive audits go through them all. The verdict is tagged on the analysis run and
    shown in the table's ``verified`` column."""
    import dataclasses

    from importance_tasks.mlflow_io.audit import tag_verified, verified
    from importance_tasks.stage.verify import CannotVerifyError, verify

    if not sample:
        return rows
    todo = [
        i
        for i, row in enumerate(rows)
        if row.status == AuditStatus.UP_TO_DATE
        and row.run_id
        and verified(client, row.run_id) is None
    ][:sample]
    for i in todo:
        try:
            found = verify(rows[i].run_id, tracking_uri=client.tracking_uri)
            differing = [c.method for c in found.checks if not c.identical]
            verdict = "identical" if not differing else f"differs: {', '.join(differing)}"
        except CannotVerifyError as exc:
            verdict = f"cannot: {exc}"
        tag_verified(client, rows[i].run_id, verdict)
        rows[i] = dataclasses.replace(rows[i], verified=verdict)
    return rows
