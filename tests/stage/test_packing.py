"""Packing compute jobs into tasks by estimated cost (pure: no MLflow, no model)."""

from __future__ import annotations

import dataclasses

import pytest

from importance_tasks.config import DEFAULT_METHODS, AnalysisConfig
from importance_tasks.mlflow_io.model_ref import ModelRef
from importance_tasks.stage import Job, Plan, jobs
from importance_tasks.stage.jobs import STEPS_JOB
from importance_tasks.stage.packing import (
    METHOD_OVERHEAD_S,
    STARTUP_S,
    estimated_seconds,
    pack,
)


def _plan(
    config: AnalysisConfig, *, n_rows: int = 10_000, n_features: int = 100, steps: bool = False
) -> Plan:
    """A plan of ``config``, without the interactions-and-effects job unless ``steps``."""
    if not steps:
        config = dataclasses.replace(config, interactions=False, effects=False)
    return Plan(
        tracking_uri="http://127.0.0.1:1", experiment="e", experiment_id="1",
        model=ModelRef("m", "1", "models:/m/1", None, None), data_uri="d.parquet",
        target="y", data_digest="0", n_rows=n_rows, settings=config.to_settings(), key="k",
        run_id="r", column_types={f"x{i}": "float32" for i in range(n_features)},
        forward_rows_per_s=2_000_000.0,
    )  # fmt: skip


def test_budgeted_methods_get_their_own_task_and_cheap_ones_share():
    plan = _plan(AnalysisConfig(methods=DEFAULT_METHODS))
    tasks = pack(plan, jobs(plan), slots=2)
    assert len(tasks) == 2
    packed = [job.method for task in tasks for job in task.jobs]
    assert sorted(packed) == sorted(DEFAULT_METHODS)  # every job once
    homes = {job.method: i for i, task in enumerate(tasks) for job in task.jobs}
    assert homes["shap"] != homes["sage"]  # the two 10 s budgets run side by side
    # The estimate: start-up plus the jobs' costs, and the longest task first. Each cost by
    # hand: model rows at 2e6 rows/s (10,000 rows, 100 features; permutation's 5 repeats,
    # integrated gradients' 1,000 rows x 32 steps x 3 passes, lime's 100 rows x 1,000 copies)
    # or the reference seconds a method sizes (shap 6; sage 0.25 per feature, at least 8).
    work = {
        "permutation": 10_000 * (100 * 5 + 1) / 2e6,
        "conditional_permutation": 10_000 * (100 * 5 + 1) / 2e6,
        "probe": 10_000 * (100 + 1) / 2e6,
        "weights": 0.0,
        "integrated_gradients": 1_000 * 32 * 3 / 2e6,
        "shap": 6.0,
        "lime": 100 * 1_000 / 2e6,
        "sage": 25.0,
    }
    for task in tasks:
        expected = STARTUP_S + sum(METHOD_OVERHEAD_S + work[job.method] for job in task.jobs)
        assert task.estimated_s == pytest.approx(expected)
    assert tasks[0].estimated_s >= tasks[1].estimated_s


def test_one_slot_is_one_task_in_job_order():
    plan = _plan(AnalysisConfig(methods=DEFAULT_METHODS))
    (task,) = pack(plan, jobs(plan), slots=1)
    assert task.jobs == tuple(jobs(plan))


def test_row_shards_spread_over_the_slots():
    config = AnalysisConfig(methods=("permutation",), shard_rows=2_500)
    plan = _plan(config)
    work = jobs(plan)
    assert len(work) == 4
    tasks = pack(plan, work, slots=8)
    assert len(tasks) == 4 and all(len(t.jobs) == 1 for t in tasks)
    assert len(pack(plan, work, slots=2)) == 2


def test_slots_for_every_job_give_one_task_per_job():
    plan = _plan(AnalysisConfig(methods=DEFAULT_METHODS))
    tasks = pack(plan, jobs(plan), slots=len(DEFAULT_METHODS))
    assert [len(t.jobs) for t in tasks] == [1] * len(DEFAULT_METHODS)


def test_costs_follow_the_work_and_stop_at_the_guard():
    plan = _plan(AnalysisConfig(methods=("permutation", "shap")))
    small = _plan(AnalysisConfig(methods=("permutation", "shap")), n_features=10)
    (permutation, shap) = jobs(plan)
    assert estimated_seconds(plan, permutation) > estimated_seconds(small, permutation)
    # shap sizes its work to about 6 reference seconds (twice with the sanity check).
    assert estimated_seconds(plan, shap) == pytest.approx(METHOD_OVERHEAD_S + 6.0)
    checked = _plan(AnalysisConfig(methods=("shap",), sanity_check=True))
    assert estimated_seconds(checked, jobs(checked)[0]) == pytest.approx(
        METHOD_OVERHEAD_S + 2 * 6.0
    )
    guarded = _plan(
        AnalysisConfig(methods=("shap",), method_options={"shap": {"time_budget_s": 3}})
    )
    assert estimated_seconds(guarded, jobs(guarded)[0]) == pytest.approx(METHOD_OVERHEAD_S + 3)


def test_the_estimates_of_permutation_and_probe_by_hand():
    """10,000 rows x 100 features at 2,000,000 rows/s: permutation (5 repeats) evaluates
    10,000 x (100 x 5 + 1) = 5,010,000 rows, 2.505 s; probe 10,000 x (100 + 1) rows, 0.505 s;
    each plus the method's fixed overhead."""
    plan = _plan(AnalysisConfig(methods=("permutation", "probe")))
    permutation, probe = jobs(plan)
    assert estimated_seconds(plan, permutation) == pytest.approx(
        METHOD_OVERHEAD_S + 2.505, abs=1e-9
    )
    assert estimated_seconds(plan, probe) == pytest.approx(METHOD_OVERHEAD_S + 0.505, abs=1e-9)


def test_a_sequence_model_is_estimated_per_variable_plus_its_profile_per_step():
    """10,000 windows of 6 steps x 4 variables at 2,000,000 rows/s: permutation copies per
    variable, 10,000 x (4 x 5 + 1) = 210,000 rows, and its profile per step takes 1,000
    windows x (24 cells x 2 repeats + 1) = 49,000 rows: 0.1295 s; the profile is the first
    shard's, so the second shard has half the variables' work alone."""
    import dataclasses

    cells = {f"v{f}": tuple(f"v{f}[{t}]" for t in range(6)) for f in range(4)}
    config = AnalysisConfig(methods=("permutation",), groups=cells)
    plan = dataclasses.replace(
        _plan(config, n_features=24),
        column_types={c: "float32" for g in cells.values() for c in g},
        window_steps=6,
    )
    assert estimated_seconds(plan, Job("permutation")) == pytest.approx(
        METHOD_OVERHEAD_S + 0.1295, abs=1e-9
    )
    sharded = dataclasses.replace(
        plan, settings=dataclasses.replace(config, shard_rows=5_000).to_settings()
    )
    first, second = (estimated_seconds(sharded, Job("permutation", k)) for k in (0, 1))
    assert second == pytest.approx(METHOD_OVERHEAD_S + 0.105 / 2, abs=1e-9)
    assert first == pytest.approx(second + 0.0245, abs=1e-9)


def test_the_interactions_and_effects_go_after_the_first_counted_method_in_its_task():
    """They read the ranking their task has: the job goes last into permutation's task. At
    2,000,000 rows/s: 100 x 100 rows for each of 8 features and 28 pairs, and 1,000 rows x
    13 for each of 6 effects plus 1,000: 0.4 s."""
    plan = _plan(AnalysisConfig(methods=DEFAULT_METHODS), steps=True)
    [step] = [j for j in jobs(plan) if j.method == STEPS_JOB]
    assert estimated_seconds(plan, step) == pytest.approx(
        METHOD_OVERHEAD_S + (10_000 * 36 + 6 * 13_000 + 1_000) / 2e6, abs=1e-9
    )
    for slots in (1, 2, 8):
        tasks = pack(plan, jobs(plan), slots=slots)
        [home] = [t for t in tasks if step in t.jobs]
        methods = [j.method for j in home.jobs]
        assert methods[-1] == STEPS_JOB and "permutation" in methods, slots


def test_sage_until_convergence_is_estimated_at_its_most_work():
    # A method that stops when its estimates converge is bounded by the work sized ahead
    # (0.25 reference seconds per feature, 8 at least), not by a count of evaluations.
    plan = _plan(AnalysisConfig(methods=("sage",)))
    assert estimated_seconds(plan, Job("sage")) == pytest.approx(METHOD_OVERHEAD_S + 25.0)
    fixed = _plan(
        AnalysisConfig(methods=("sage",), method_options={"sage": {"n_permutations": 64}})
    )
    assert estimated_seconds(fixed, Job("sage")) < METHOD_OVERHEAD_S + 25.0
