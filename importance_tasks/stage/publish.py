"""Publish: the report, the manifest (written last) and the model version's tags, from what
``aggregate`` logged; and the logged analysis read back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from importance_tasks import contract
from importance_tasks.analysis import Analysis, features_barely_used
from importance_tasks.effects.steps import InteractionsAndEffects
from importance_tasks.errors import InputError
from importance_tasks.mlflow_io import logged_values
from importance_tasks.mlflow_io.analysis_run import Aggregated, AnalysisRun
from importance_tasks.mlflow_io.client import access, connect
from importance_tasks.ranking.comparison import Comparison
from importance_tasks.ranking.ranks import top_features
from importance_tasks.report.document import (
    bar_chart_png,
    outputs_report_html,
    rank_heatmap_png,
    report_html,
    step_heatmap_png,
)
from importance_tasks.report.steps_section import (
    effects_png,
    first_screen,
    interactions_png,
    steps_html,
)
from importance_tasks.report.trust import dependence_map_png
from importance_tasks.result import Importance
from importance_tasks.stage.messages import PublishSummary
from importance_tasks.stage.plan import Plan

__all__ = ["publish", "read_logged_analysis", "read_logged_outputs"]


def publish(plan: Plan) -> PublishSummary:
    """Report, manifest and version tags; the run is then complete. Returns its summary.
    An analysis of several outputs has one report with a section
    per output, one manifest, and tags per output (``logged_values.version_tags``)."""
    base = AnalysisRun(connect(plan.tracking_uri), plan.run_id)
    config = plan.config
    parts: dict[str | None, Aggregated] = {}
    for output in plan.outputs or (None,):
        logged = base.of_output(output).aggregated(config.methods)
        if not logged.results or logged.consensus is None or logged.agreement is None:
            raise InputError(f"run {plan.run_id} has not been aggregated: run aggregate first")
        parts[output] = logged
    if not plan.complete:
        with ThreadPoolExecutor(max_workers=1) as pool:
            # Listing what compute and aggregate wrote takes a few requests: meanwhile, draw.
            listed = pool.submit(base.artifact_paths)
            written = {*_log_report(plan, base, parts), contract.REPORT}
            written |= set(listed.result())
        base.finish(_manifest(plan, base, parts, sorted(written)))
    top = {
        output: top_features(logged.consensus.features, logged.consensus.rank, config.top_k)
        for output, logged in parts.items()
        if logged.consensus is not None
    }
    tags = logged_values.version_tags(
        run_id=plan.run_id,
        outputs={
            output: (top[output], logged.consensus, _compared(logged))
            for output, logged in parts.items()
            if logged.consensus is not None
        },
        config_digest=plan.requested_digest or config.digest(),
        directions={
            o: "" if p.steps is None else logged_values.directions_value(p.steps)
            for o, p in parts.items()
        },
    )
    if plan.tag_version:
        with access(
            f"tag version {plan.model.version} of {plan.model.name!r}",
            "EDIT (on the registered model)",
        ):
            base.tag_version(plan.model.name, plan.model.version, tags)
            if plan.model.model_id:
                base.tag_logged_model(plan.model.model_id, tags)
    summaries = {
        output: _summary(plan, logged, top[output], tags, output)
        for output, logged in parts.items()
    }
    if None in summaries:
        return summaries[None]
    return PublishSummary.of_outputs(
        {str(k): v for k, v in summaries.items()}, tagged=plan.tag_version
    )


def _compared(logged: Aggregated) -> Comparison | None:
    return None if logged.comparison is None else logged.comparison[1]


def _summary(
    plan: Plan, logged: Aggregated, top: list[str], tags: dict[str, str], output: str | None
) -> PublishSummary:
    """One output's summary (the whole summary of an analysis of one output)."""
    compared, comparison = logged.comparison, _compared(logged)
    assert logged.consensus is not None
    return PublishSummary(
        tagged=plan.tag_version,
        run_id=plan.run_id,
        model_name=plan.model.name,
        model_version=plan.model.version,
        top_features=top,
        previous_version=None if compared is None else compared[0],
        spearman=None if comparison is None else comparison.spearman,
        ndcg=None if comparison is None or np.isnan(comparison.ndcg) else comparison.ndcg,
        drift=tags.get(contract.output_tag(contract.VersionTag.DRIFT, output)),
        drifted=None if comparison is None else comparison.drifted,
        sanity={
            r.method: bool(r.diagnostics["sanity"]["passed"])
            for r in logged.results
            if "passed" in (r.diagnostics.get("sanity") or {})
        },
        excluded=dict(logged.consensus.excluded),
        movers=[] if comparison is None else comparison.movers(),
    )


def _log_report(
    plan: Plan,
    base: AnalysisRun,
    parts: Mapping[str | None, Aggregated],
) -> list[str]:
    """Draw and log the report (a section per output when several) and the charts; returns
    the charts' artifact paths."""
    written: list[str] = []
    sections: dict[str, str] = {}
    for output, logged in parts.items():
        html, plots = _report(plan, logged, output)
        written += [contract.scoped_path(contract.plot_path(n), output) for n in plots]
        if output is None:
            base.log_report(html, plots)
        else:
            base.of_output(output).log_charts(plots)
            sections[output] = html
    if sections:
        base.log_report(outputs_report_html(f"Feature importance: {plan.label}", sections), {})
    return written


def _manifest(
    plan: Plan, base: AnalysisRun, parts: Mapping[str | None, Aggregated], artifacts: list[str]
) -> contract.Manifest:
    config = plan.config
    done: dict[str | None, list[str]] = {o: [r.method for r in p.results] for o, p in parts.items()}
    reasons = {
        output: {
            m: base.of_output(output).skipped(m) or "not computed"
            for m in config.methods
            if m not in done[output]
        }
        for output in parts
    }
    every = [m for m in config.methods if any(m in d for d in done.values())]
    outputs = {}
    if None not in parts:
        outputs = {
            str(o): contract.OutputPart(t, tuple(done[o]), reasons[o])
            for o, t in zip(plan.outputs, plan.targets, strict=True)
        }
    return contract.Manifest(
        key=plan.key,
        run_id=plan.run_id,
        model=contract.ManifestModel(plan.model.name, plan.model.version, plan.model.model_id),
        data=contract.ManifestData(
            uri=plan.data_uri,
            digest=plan.data_digest,
            rows=plan.n_rows,
            target=plan.target,
            targets=tuple(plan.targets),
            column_types=dict(plan.column_types),
            unseen=dict(plan.unseen),
        ),
        methods=tuple(every),
        skip_reasons=reasons[None]
        if None in parts
        else {m: "not computed for any output" for m in config.methods if m not in every},
        config=config.identity(),
        settings=plan.settings,
        artifacts=tuple(artifacts),
        outputs=outputs,
    )


def _report(plan: Plan, logged: Aggregated, output: str | None) -> tuple[str, dict[str, bytes]]:
    """The HTML report of one output and its charts (name -> PNG), each drawn once; with the
    interactions and effects (``logged.steps``), their section and charts."""
    steps = logged.steps
    results, found = logged.results, logged.dependence
    combined, agreed = logged.consensus, logged.agreement
    assert combined is not None and agreed is not None
    target = plan.target if output is None else plan.targets[plan.outputs.index(output)]
    alias = f" (alias {plan.model.alias})" if plan.model.alias else ""
    plots = {
        "rank_heatmap": rank_heatmap_png(results, combined),
        **{r.method: bar_chart_png(r) for r in results},
        **{f"{r.method}_by_step": step_heatmap_png(r) for r in results if _stepped(r)},
    }
    drawn = {}
    if steps:
        drawn = {"effects": effects_png(steps.effects)} if steps.effects else {}
        if steps.pairs:
            drawn["interactions"] = interactions_png(steps)
        plots.update(drawn)
    html = report_html(
        title=f"Feature importance: {plan.label}" + ("" if output is None else f", {output}"),
        context={
            "model": f"{plan.model.name} version {plan.model.version}{alias}",
            "data": plan.data_uri,
            "data digest": plan.data_digest,
            "rows": plan.n_rows,
            **({"Keras backend": plan.backend} if plan.backend else {}),
            **({} if output is None else {"output": output}),
            "target": target,
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
        section=steps_html(steps, drawn) if steps else "",
        summary=first_screen(
            combined,
            results,
            steps,
            [] if found is None else found.clusters,
            negligible=features_barely_used(results, combined),
            unseen=plan.unseen,
        ),
    )
    return html, plots


def _stepped(result: Importance) -> bool:
    """Whether a method gave a sequence model's importance per step."""
    return bool(result.diagnostics.get("by_step"))


def read_logged_analysis(
    tracking_uri: str | None, run_id: str, *, output: str | None = None
) -> Analysis:
    """The analysis of a complete run (of ``output``, for a run of several outputs), read back
    from its manifest, results and consensus."""

    base = AnalysisRun(connect(tracking_uri), run_id)
    manifest = base.manifest()
    if manifest is None:
        raise InputError(f"run {run_id} has no manifest: the analysis is not complete")
    outputs = manifest.outputs
    if (output is None) != (not outputs) or (output is not None and output not in outputs):
        raise InputError(f"run {run_id} analysed the outputs {list(outputs) or 'one output'}")
    part = manifest.part(output)
    run = base.of_output(output)
    combined = run.consensus()
    if combined is None:
        raise InputError(f"run {run_id} has no consensus: the analysis is not complete")
    results = run.results(list(part.methods))
    return Analysis(
        results={r.method: r for r in results},
        consensus=combined,
        skipped=dict(part.skip_reasons),
        column_types=manifest.data.column_types,
        dependence=base.dependence(),
        steps=run.steps() or InteractionsAndEffects(),
        unseen=manifest.data.unseen,
    )


def read_logged_outputs(tracking_uri: str | None, run_id: str) -> dict[str, Analysis]:
    """Each output's analysis of a complete run, keyed by output (by its target for a run of
    one output)."""
    manifest = AnalysisRun(connect(tracking_uri), run_id).manifest()
    outputs = [] if manifest is None else list(manifest.outputs)
    if not outputs:
        target = "" if manifest is None else manifest.data.target
        return {target: read_logged_analysis(tracking_uri, run_id)}
    return {o: read_logged_analysis(tracking_uri, run_id, output=o) for o in outputs}
