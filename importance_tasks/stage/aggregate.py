"""Aggregate: every method's result (row shards combined), consensus, agreement and the
comparison with the previous analysed version; all logged, for ``publish`` to read."""

from __future__ import annotations

import dataclasses

from importance_tasks import contract
from importance_tasks.errors import InputError
from importance_tasks.methods.shards import Sharded, ShardPart
from importance_tasks.mlflow_io.analysis_run import AnalysisRun
from importance_tasks.mlflow_io.client import connect
from importance_tasks.ranking.comparison import compare
from importance_tasks.ranking.ranks import agreement, consensus, top_features
from importance_tasks.report.document import comparison_csv, method_csv, rankings_csv
from importance_tasks.result import Importance
from importance_tasks.runner import finish
from importance_tasks.stage.jobs import shardable
from importance_tasks.stage.messages import AggregateSummary, Aggregation
from importance_tasks.stage.plan import Plan

__all__ = ["aggregate"]


def aggregate(plan: Plan) -> Aggregation:
    """Combine, rank, compare and log, for each output analysed; returns what it found per
    output."""
    client = connect(plan.tracking_uri)
    outputs: tuple[str | None, ...] = plan.outputs or (None,)
    return Aggregation({o: _aggregate(plan, AnalysisRun(client, plan.run_id, o)) for o in outputs})


def _aggregate(plan: Plan, run: AnalysisRun) -> AggregateSummary:
    client = run.client
    for method in plan.config.methods:
        _combine_shards(plan, run, method)
    results = run.results(plan.config.methods)
    if not results:
        which = "" if run.output is None else f" for output {run.output!r}"
        raise InputError(
            f"no method produced a result{which} in run {plan.run_id} (all failed or were skipped)"
        )
    config = plan.config
    combined = consensus(results, k=config.top_k, seed=config.seed, counted=config.counted_methods)
    agreed = agreement(results)
    previous = AnalysisRun.previous_consensus(
        client,
        plan.model.name,
        plan.model.version,
        experiment=plan.experiment,
        output=run.output,
    )
    comparison = None
    if previous is not None:
        version, previous_rank = previous
        compared = compare(
            previous_rank, combined.ranks(), k=config.top_k, threshold=config.drift_threshold
        )
        comparison = (version, compared)
    tables = {contract.RANKINGS_TABLE: rankings_csv(results, combined)}
    if comparison is not None:
        tables[contract.COMPARISON_TABLE] = comparison_csv(comparison[1])
    run.log_aggregate(
        consensus=combined,
        agreement=agreed,
        comparison=comparison,
        tables=tables,
        model_id=plan.model.model_id,
        dataset_digest=plan.data_digest,
    )
    return AggregateSummary.of(
        plan.run_id,
        consensus=combined,
        top_features=top_features(combined.features, combined.rank, config.top_k),
        agreement=agreed,
        comparison=comparison,
    )


def _combine_shards(plan: Plan, run: AnalysisRun, method: str) -> None:
    """A sharded method's result from its parts, finished like any other (sanity verdict from
    the randomised model's parts, not-evaluable features marked) and logged, once."""
    instance = shardable(plan.config, method)
    count = 1 if instance is None else instance.n_shards(plan.n_rows)
    if instance is None or count == 1 or run.has_result(method):
        return
    result = _combined(run, instance, method, count, randomized=False)
    first = run.part(method, 0) or {}
    steps = {k: v for k, v in first.get("meta", {}).items() if k.startswith("by_step")}
    if steps:  # a sequence model's profile per step, from the first shard
        result = dataclasses.replace(result, diagnostics={**result.diagnostics, **steps})
    randomized: Importance | str | None = None
    if plan.config.sanity_check:
        randomized = run.skipped(method, randomized=True) or _combined(
            run, instance, method, count, randomized=True
        )
    finished = finish(result, randomized=randomized, constant=plan.constant_features)
    run.log_result(
        finished,
        table=method_csv(finished),
        model_id=plan.model.model_id,
        dataset_digest=plan.data_digest,
    )


def _combined(
    run: AnalysisRun, method: Sharded, name: str, count: int, *, randomized: bool
) -> Importance:
    records = [run.part(name, k, randomized=randomized) for k in range(count)]
    missing = [k for k, r in enumerate(records) if r is None]
    if missing:
        which = "randomised-model shards" if randomized else "row shards"
        raise InputError(f"{name}: {which} {missing} of {count} were not computed")
    return method.combine([ShardPart.from_record(r) for r in records if r])
