"""The stage's steps called the way the tests read best: settings as keywords."""

from __future__ import annotations

from typing import Any

from importance_tasks.config import AnalysisConfig
from importance_tasks.stage import Job, Plan, compute, plan, run_stage

INPUTS = ("tracking_uri", "data_uri", "target", "experiment", "trust_pyfunc")


def _split(kwargs: dict[str, Any]) -> tuple[AnalysisConfig, dict[str, Any]]:
    inputs = {k: kwargs.pop(k) for k in INPUTS if k in kwargs}
    return AnalysisConfig(**kwargs), inputs


def analyze(model: str, **kwargs: Any):
    """``run_stage`` with the configuration's settings and the inputs as keywords, for a
    model with one output: the plan and the analysis."""
    config, inputs = _split(dict(kwargs))
    pinned, analyses = run_stage(model, config, **inputs)
    [analysis] = analyses.values()
    return pinned, analysis


def plan_analysis(model: str, **kwargs: Any) -> Plan:
    config, inputs = _split(dict(kwargs))
    return plan(model, config, **inputs)


def compute_method(pinned: Plan, method: str, shard: int | None = None) -> dict[str, Any]:
    return compute(pinned, Job(method, shard))
