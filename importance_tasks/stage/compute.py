"""Compute: jobs of a plan (a method, or one row shard of it), each logged to the run.

``compute_jobs`` computes several jobs in one process, loading the model and the data once (a
task of ``importance_tasks.stage.packing``). A job already logged is not computed again (a
retry, or a second DAG run of the same analysis).
A method in one piece goes through the same runner as the in-memory analysis; a row shard logs
its losses, and ``aggregate`` combines the parts (and, with the sanity check, the parts on the
randomised model) into the method's result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from importance_tasks import contract
from importance_tasks.analysis import steps_on
from importance_tasks.config import AnalysisConfig
from importance_tasks.contract import JobStatus
from importance_tasks.errors import InputError, UnsupportedModelError
from importance_tasks.keras.randomized import randomized_copy
from importance_tasks.mlflow_io.analysis_run import AnalysisRun
from importance_tasks.mlflow_io.client import connect
from importance_tasks.progress import LogProgress
from importance_tasks.ranking.ranks import consensus, top_features
from importance_tasks.ranking.uncertainty import DEFAULT_TOP_K
from importance_tasks.report.document import method_csv
from importance_tasks.report.steps_section import effects_csv, interactions_csv
from importance_tasks.runner import run_method, step_profile, stepped
from importance_tasks.stage.inputs import Inputs
from importance_tasks.stage.jobs import STEPS_JOB, Job, shardable
from importance_tasks.stage.messages import JobSummary
from importance_tasks.stage.plan import Plan, checked_inputs

__all__ = ["compute", "compute_jobs"]

log = logging.getLogger(__name__)


class _LoadOnce:
    """The plan's checked inputs, loaded at the first job that needs them."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.inputs: Inputs | None = None

    def __call__(self) -> Inputs:
        if self.inputs is None:
            self.inputs = checked_inputs(self.plan)
        return self.inputs


def compute_jobs(plan: Plan, jobs: Sequence[Job]) -> list[JobSummary]:
    """Compute several jobs one after another, with the model and data loaded once; returns
    each job's summary."""
    load = _LoadOnce(plan)
    return [compute(plan, job, inputs=load) for job in jobs]


def compute(plan: Plan, job: Job, *, inputs: Callable[[], Inputs] | None = None) -> JobSummary:
    """Compute one job and log it; returns what it did.

    ``inputs`` gives the plan's checked model and data (default: loaded for this job).
    """

    load = inputs or _LoadOnce(plan)
    config = plan.config.for_output(job.output or plan.target)
    if job.method not in (*config.methods, STEPS_JOB):
        raise InputError(f"method {job.method!r} is not in this analysis: {list(config.methods)}")
    if job.output is not None and job.output not in plan.outputs:
        raise InputError(f"output {job.output!r} is not in this analysis: {list(plan.outputs)}")
    run = AnalysisRun(connect(plan.tracking_uri), plan.run_id, job.output)
    summary = JobSummary(job, plan.run_id, JobStatus.REUSED)
    if job.method == STEPS_JOB:
        return _compute_steps(plan, config, run, load, summary)
    if plan.complete or run.has_result(job.method):
        return summary
    if job.shard is not None:
        return _compute_shard(plan, job, run, load, summary)
    model, data = load().for_output(job.output)
    outcome = run_method(
        job.method,
        config,
        model,
        data,
        constant=plan.constant_features,
        progress=LogProgress(log.info, job.method),
    )
    if outcome.result is None:
        run.log_skipped(job.method, outcome.skipped or "")
        return replace(summary, status=JobStatus.SKIPPED, reason=outcome.skipped or "")
    result = outcome.result
    logged = run.log_result(
        result,
        table=method_csv(result),
        model_id=plan.model.model_id,
        dataset_digest=plan.data_digest,
    )
    if not logged:
        return summary
    return replace(
        summary,
        status=JobStatus.DONE,
        seconds=round(result.seconds, 3),
        top_features=tuple(top_features(result.features, result.rank, DEFAULT_TOP_K)),
    )


def _compute_steps(
    plan: Plan,
    config: AnalysisConfig,
    run: AnalysisRun,
    load: Callable[[], Inputs],
    summary: JobSummary,
) -> JobSummary:
    """Interactions and effects of the top features of the ranking this task can see: the
    consensus of the methods logged so far (``pack`` puts this job after the first counted
    method, in its task, so that at least that one is)."""
    if plan.complete or run.has_steps():
        return summary
    results = run.results(config.counted_methods) or run.results(config.methods)
    if not results:
        run.log_skipped(STEPS_JOB, "no method's ranking was logged before this job")
        return replace(summary, status=JobStatus.SKIPPED, reason="no ranking yet")
    combined = consensus(results, k=config.top_k, seed=config.seed)
    model, data = load().for_output(run.output)
    found = replace(
        steps_on(model, data, config, combined, results),
        ranked_by=tuple(r.method for r in results),
    )
    run.log_steps(
        found,
        tables={
            contract.INTERACTIONS_TABLE: interactions_csv(found),
            contract.EFFECTS_TABLE: effects_csv(found),
        },
    )
    return replace(summary, status=JobStatus.DONE, ranked_by=found.ranked_by)


def _compute_shard(
    plan: Plan, job: Job, run: AnalysisRun, load: Callable[[], Inputs], summary: JobSummary
) -> JobSummary:
    assert job.shard is not None
    method = shardable(plan.config, job.method)
    if method is None:
        raise InputError(f"method {job.method!r} does not work in row shards")
    if run.has_part(job.method, job.shard, randomized=job.randomized):
        return summary
    model, data = load().for_output(job.output)
    if job.randomized:
        try:
            model = randomized_copy(model, seed=plan.config.seed)
        except UnsupportedModelError as exc:
            run.log_skipped(job.method, str(exc), randomized=True)
            return replace(summary, status=JobStatus.SKIPPED, reason=str(exc))
    config = plan.config.for_output(job.output or plan.target)
    part = method.compute_shard(
        model,
        data,
        shard=job.shard,
        scoring=config.scoring_for(None),
        progress=LogProgress(log.info, f"{job.method} shard {job.shard}"),
    )
    if job.shard == 0 and not job.randomized and stepped(method, model):
        # A sequence model's profile per step: computed once, by the first shard, on a
        # sample of every window; ``aggregate`` hands it to the combined result.
        profile, used = step_profile(method, model, data, scoring=config.scoring_for(None))
        part = replace(part, meta={**part.meta, "by_step": profile, "by_step_settings": used})
    run.log_part(part.to_record(), randomized=job.randomized)
    return replace(summary, status=JobStatus.DONE, seconds=round(float(part.meta["seconds"]), 3))
