"""The logged analysis as a pipeline stage: plan -> compute (jobs, packed into tasks) -> aggregate
-> publish. Airflow tasks call one step each; ``run_stage`` calls them in sequence for the
command line and for Python callers. Each step takes and returns typed messages
(``stage.messages``: ``to_dict`` is what XCom carries); tables and arrays go to the run's
artifacts. Every step can be retried: the
run is found again by its key, a job already logged is not computed twice, metrics are written
with a fixed step and timestamp, and the manifest is written last.
"""

from __future__ import annotations

from typing import Any

from importance_tasks.analysis import Analysis
from importance_tasks.config import AnalysisConfig
from importance_tasks.mlflow_io.model_ref import ModelSpec
from importance_tasks.stage.aggregate import aggregate
from importance_tasks.stage.compute import compute, compute_jobs
from importance_tasks.stage.inputs import data_digest, load_inputs
from importance_tasks.stage.jobs import Job, jobs
from importance_tasks.stage.plan import Plan, plan
from importance_tasks.stage.publish import publish, read_logged_analysis, read_logged_outputs

__all__ = [
    "Job",
    "Plan",
    "aggregate",
    "compute",
    "compute_jobs",
    "data_digest",
    "is_of_record",
    "jobs",
    "load_inputs",
    "plan",
    "publish",
    "read_logged_analysis",
    "read_logged_outputs",
    "run_stage",
]


def run_stage(
    model: ModelSpec | str,
    config: AnalysisConfig,
    *,
    record: AnalysisConfig | None = None,
    **inputs: Any,
) -> tuple[Plan, dict[str, Analysis]]:
    """The whole stage in one process: plan, every job, aggregate, publish.

    Takes ``plan``'s arguments. The version's ``importance.*`` tags are set when ``config`` is
    the configuration of record (``record``, default: the defaults) or asks for it
    (``tag_version``); any other analysis is logged as its own run and leaves the tags alone.
    Returns the plan and each output's analysis read back from the run (keyed by its target
    for an analysis of one output; ``read_logged_outputs``), so a repeated call on a complete
    run returns the logged result without computing.
    """
    pinned = plan(model, config, tag_version=is_of_record(config, record), **inputs)
    if not pinned.complete:
        compute_jobs(pinned, jobs(pinned))  # the model and data loaded once
        aggregate(pinned)
    publish(pinned)
    return pinned, read_logged_outputs(pinned.tracking_uri, pinned.run_id)


def is_of_record(config: AnalysisConfig, record: AnalysisConfig | None = None) -> bool:
    """Whether an analysis with ``config`` sets the version's tags: it asks to
    (``tag_version``), or it computes what the stage's configuration of record computes
    (``record``, default: the defaults)."""
    return config.tag_version or config.digest() == (record or AnalysisConfig()).digest()
