"""Compute: one job of a plan (a method, or one row shard of it), logged to the run.

A job already logged is not computed again (a retry, or a second DAG run of the same analysis).
A method in one piece goes through the same runner as the in-memory analysis; a row shard logs
its losses, and ``aggregate`` combines the parts (and, with the sanity check, the parts on the
randomised model) into the method's result.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from importance_tasks.errors import InputError, UnsupportedModelError
from importance_tasks.methods import make_method
from importance_tasks.mlflow_io.analysis_run import AnalysisRun
from importance_tasks.progress import LogProgress
from importance_tasks.runner import run_method
from importance_tasks.sanity import randomized_copy
from importance_tasks.stage.inputs import checked_inputs
from importance_tasks.stage.plan import Job, Plan, shardable

__all__ = ["TOP_K", "compute", "top_features"]

TOP_K = 5
log = logging.getLogger(__name__)


def top_features(features: Any, rank: Any, k: int = TOP_K) -> list[str]:
    """The ``k`` best-ranked features (ties in feature order)."""
    return [features[i] for i in np.argsort(rank, kind="stable")[:k]]


def compute(plan: Plan, job: Job) -> dict[str, Any]:
    """Compute one job and log it; returns a small summary (what XCom carries)."""
    from importance_tasks.mlflow_io.client import connect

    config = plan.config
    if job.method not in config.methods:
        raise InputError(f"method {job.method!r} is not in this analysis: {list(config.methods)}")
    run = AnalysisRun(connect(plan.tracking_uri), plan.run_id)
    summary: dict[str, Any] = {**job.to_dict(), "run_id": plan.run_id}
    if plan.complete or run.has_result(job.method):
        return {**summary, "status": "reused"}
    if job.shard is not None:
        return {**summary, **_compute_shard(plan, job, run)}
    inputs = checked_inputs(plan)
    outcome = run_method(
        make_method(job.method, **config.options_for(job.method)),
        inputs.model,
        inputs.data,
        scoring=config.scoring,
        sanity_check=config.sanity_check,
        seed=config.seed,
        constant=plan.constant_features,
        progress=LogProgress(log.info, job.method),
    )
    if outcome.result is None:
        run.log_skipped(job.method, outcome.skipped or "")
        return {**summary, "status": "skipped", "reason": outcome.skipped}
    result = outcome.result
    if not run.log_result(result, model_id=plan.model.model_id):
        return {**summary, "status": "reused"}
    return {
        **summary,
        "status": "done",
        "seconds": round(result.seconds, 3),
        "top_features": top_features(result.features, result.rank),
    }


def _compute_shard(plan: Plan, job: Job, run: AnalysisRun) -> dict[str, Any]:
    assert job.shard is not None
    method = shardable(plan.config, job.method)
    if method is None:
        raise InputError(f"method {job.method!r} does not work in row shards")
    if run.has_part(job.method, job.shard, randomized=job.randomized):
        return {"status": "reused"}
    inputs = checked_inputs(plan)
    model = inputs.model
    if job.randomized:
        try:
            model = randomized_copy(model, seed=plan.config.seed)
        except UnsupportedModelError as exc:
            run.log_skipped(job.method, str(exc), randomized=True)
            return {"status": "skipped", "reason": str(exc)}
    part = method.compute_shard(
        model,
        inputs.data,
        shard=job.shard,
        scoring=plan.config.scoring,
        progress=LogProgress(log.info, f"{job.method} shard {job.shard}"),
    )
    run.log_part(part.to_record(), randomized=job.randomized)
    return {"status": "done", "seconds": round(float(part.meta["seconds"]), 3)}
