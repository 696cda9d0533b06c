"""Publish: the report, the manifest (written last) and the model version's tags, from what
``aggregate`` logged; and the logged analysis read back."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from importance_tasks.analysis import Analysis
from importance_tasks.errors import InputError
from importance_tasks.mlflow_io import contract
from importance_tasks.mlflow_io.analysis_run import Aggregated, AnalysisRun
from importance_tasks.mlflow_io.client import access, connect
from importance_tasks.ranking.ranks import Agreement, Consensus, top_features
from importance_tasks.report.document import (
    bar_chart_png,
    rank_heatmap_png,
    report_html,
    step_heatmap_png,
)
from importance_tasks.report.trust import dependence_map_png
from importance_tasks.result import Importance
from importance_tasks.stage.messages import PublishSummary
from importance_tasks.stage.plan import Plan

__all__ = ["publish", "read_logged_analysis"]


def publish(plan: Plan) -> dict[str, Any]:
    """Report, manifest and version tags; the run is then complete. Returns the summary
    (``PublishSummary.to_dict``)."""
    run = AnalysisRun(connect(plan.tracking_uri), plan.run_id)
    config = plan.config
    logged = run.aggregated(config.methods)
    results, combined, agreed = logged.results, logged.consensus, logged.agreement
    if not results or combined is None or agreed is None:
        raise InputError(f"run {plan.run_id} has not been aggregated: run aggregate first")
    compared = logged.comparison
    if not plan.complete:
        with ThreadPoolExecutor(max_workers=1) as pool:
            # Listing what compute and aggregate wrote takes a few requests: meanwhile, draw.
            listed = pool.submit(run.artifact_paths)
            html, plots = _report(plan, logged, combined, agreed)
            run.log_report(html, plots)
            written = {*listed.result(), contract.REPORT, *map(contract.plot_path, plots)}
        done = {r.method for r in results}
        run.finish(
            contract.manifest(
                key=plan.key,
                run_id=plan.run_id,
                model={
                    "name": plan.model.name,
                    "version": plan.model.version,
                    "model_id": plan.model.model_id,
                },
                data={
                    "uri": plan.data_uri,
                    "digest": plan.data_digest,
                    "rows": plan.n_rows,
                    "target": plan.target,
                    "column_types": dict(plan.column_types),
                },
                methods=[r.method for r in results],
                skip_reasons={
                    m: run.skipped(m) or "not computed" for m in config.methods if m not in done
                },
                identity=config.identity(),
                artifacts=sorted(written),
            )
        )
    top = top_features(combined.features, combined.rank, config.top_k)
    comparison = None if compared is None else compared[1]
    tags = contract.version_tags(
        run_id=plan.run_id,
        top_features=top,
        consensus=combined,
        config_digest=plan.requested_digest or config.digest(),
        comparison=comparison,
    )
    if plan.tag_version:
        with access(
            f"tag version {plan.model.version} of {plan.model.name!r}",
            "EDIT (on the registered model)",
        ):
            run.tag_version(plan.model.name, plan.model.version, tags)
            if plan.model.model_id:
                run.tag_logged_model(plan.model.model_id, tags)
    return PublishSummary(
        tagged=plan.tag_version,
        run_id=plan.run_id,
        model_name=plan.model.name,
        model_version=plan.model.version,
        top_features=top,
        previous_version=None if compared is None else compared[0],
        spearman=None if comparison is None else comparison.spearman,
        ndcg=None if comparison is None or np.isnan(comparison.ndcg) else comparison.ndcg,
        drift=tags.get(contract.VersionTag.DRIFT),
        drifted=None if comparison is None else comparison.drifted,
        sanity={
            r.method: bool(r.diagnostics["sanity"]["passed"])
            for r in results
            if "passed" in (r.diagnostics.get("sanity") or {})
        },
        excluded=dict(combined.excluded),
        movers=[] if comparison is None else comparison.movers(),
    ).to_dict()


def _report(
    plan: Plan, logged: Aggregated, combined: Consensus, agreed: Agreement
) -> tuple[str, dict[str, bytes]]:
    """The HTML report and its charts (name -> PNG), each drawn once."""
    results, found = logged.results, logged.dependence
    alias = f" (alias {plan.model.alias})" if plan.model.alias else ""
    plots = {
        "rank_heatmap": rank_heatmap_png(results, combined),
        **{r.method: bar_chart_png(r) for r in results},
        **{f"{r.method}_by_step": step_heatmap_png(r) for r in results if _stepped(r)},
    }
    html = report_html(
        title=f"Feature importance: {plan.label}",
        context={
            "model": f"{plan.model.name} version {plan.model.version}{alias}",
            "data": plan.data_uri,
            "data digest": plan.data_digest,
            "rows": plan.n_rows,
            "target": plan.target,
            "settings": json.dumps(plan.config.identity(), sort_keys=True),
            "run": plan.run_id,
        },
        results=results,
        consensus=combined,
        column_types=plan.column_types,
        agreement=agreed,
        comparison=None if logged.comparison is None else logged.comparison[1],
        dependence=found,
        dependence_map=None if found is None else dependence_map_png(found),
        charts={
            "ranks by method": plots["rank_heatmap"],
            **{r.method: plots[r.method] for r in results},
            **{f"{r.method} by step": plots[f"{r.method}_by_step"] for r in results if _stepped(r)},
        },
    )
    return html, plots


def _stepped(result: Importance) -> bool:
    """Whether a method gave a sequence model's importance per step."""
    return bool(result.diagnostics.get("by_step"))


def read_logged_analysis(tracking_uri: str | None, run_id: str) -> Analysis:
    """The analysis of a complete run, read back from its manifest, results and consensus."""

    run = AnalysisRun(connect(tracking_uri), run_id)
    manifest = run.manifest()
    combined = run.consensus()
    if manifest is None or combined is None:
        raise InputError(f"run {run_id} has no manifest: the analysis is not complete")
    results = run.results(manifest["methods"])
    reasons = manifest.get("skip_reasons", {})  # manifests before 0.2 list no reasons
    skipped = {m: reasons.get(m, "unsupported for this model") for m in manifest["skipped"]}
    return Analysis(
        results={r.method: r for r in results},
        consensus=combined,
        skipped=skipped,
        column_types=manifest["data"].get("column_types", {}),  # absent before 0.3
        dependence=run.dependence(),
    )
