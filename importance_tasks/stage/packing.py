"""Compute jobs packed into tasks by their estimated cost.

Every task that computes pays a start-up before its first job: importing TensorFlow and the
methods, loading the model and the data (about 9 s on the benchmark machine, see
``benchmarks/RESULTS.md``). One task per job buys parallelism only while tasks can run at once;
beyond that each extra task is start-up paid again. So the jobs are packed into at most
``slots`` tasks (the compute tasks that can run at once), as many as lower the estimated
finishing time: longest job first into the least loaded task (the LPT rule), each task
counted as start-up plus its jobs. Cheap methods share a task; an expensive one gets its own;
row shards spread out.

A job's cost is each method's own estimate (its ``seconds``: the model evaluations it needs at
the forward throughput measured when the analysis was planned, or the work it sizes ahead); a
method with a time guard costs at most its guard.
The estimates only order and pack the jobs; the plan is logged with them, and each task's
summary carries the measured seconds beside them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from importance_tasks.effects.steps import EFFECT_ROWS, INTERACTION_ROWS
from importance_tasks.methods import make_method
from importance_tasks.methods.base import STEP_ROWS
from importance_tasks.methods.shards import Sharded
from importance_tasks.stage.jobs import STEPS_JOB, Job
from importance_tasks.stage.plan import Plan

__all__ = ["METHOD_OVERHEAD_S", "STARTUP_S", "ComputeTask", "estimated_seconds", "pack"]

STARTUP_S = 9.0  # a compute task's start-up (imports, model and data), measured
METHOD_OVERHEAD_S = 0.8  # tracing and set-up per method (0.5-1 s measured at 100 features)


@dataclass(frozen=True)
class ComputeTask:
    """Jobs computed one after another in one task, with their estimated seconds."""

    jobs: tuple[Job, ...]
    estimated_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "jobs": [job.to_dict() for job in self.jobs],
            "estimated_s": round(self.estimated_s, 1),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComputeTask:
        return cls(tuple(Job.from_dict(j) for j in data["jobs"]), float(data["estimated_s"]))

    @property
    def label(self) -> str:
        return " + ".join(job.label for job in self.jobs)


def estimated_seconds(plan: Plan, job: Job) -> float:
    """Rough seconds ``job`` computes for (its sanity check on a randomised copy included)."""
    config = plan.config
    if job.method == STEPS_JOB:
        return METHOD_OVERHEAD_S + _steps_evaluations(plan) / max(plan.forward_rows_per_s, 1.0)
    method = make_method(job.method, **config.options_for(job.method))
    n_rows, n_columns = plan.n_rows, max(1, len(plan.column_types))
    # The rows a result reports: a group (a sequence variable's cells, a named input's
    # columns) is one, as copies are made per row.
    n_features = max(
        1, n_columns - sum(len(g) for g in config.groups.values()) + len(config.groups)
    )
    rate = max(plan.forward_rows_per_s, 1.0)
    seconds = method.seconds(n_rows, n_features, rate)
    budget = getattr(method, "time_budget_s", 0.0)
    if budget:
        seconds = min(seconds, budget)
    if isinstance(method, Sharded) and job.shard is not None:
        seconds /= method.n_shards(n_rows)
    elif config.sanity_check:
        seconds *= 2  # the method again on the randomised copy
    if plan.window_steps and method.per_step and job.shard in (None, 0):
        # A sequence model's profile per step (``runner.step_profile``): the method's lighter
        # copy on a sample of windows, each cell a feature.
        rows = min(n_rows, STEP_ROWS)
        seconds += method.for_step_profile(rows).seconds(rows, n_columns, rate)
    return METHOD_OVERHEAD_S + seconds


def _steps_evaluations(plan: Plan) -> float:
    """The interactions (n x n rows per feature and per pair) and effects (the grid and both
    edges of each row's bin, per feature) of the top features."""
    config, n = plan.config, min(plan.n_rows, INTERACTION_ROWS)
    top = config.interaction_top if config.interactions else 0
    rows = min(plan.n_rows, EFFECT_ROWS)
    curves = config.effect_top * rows * (2 + 11) + rows if config.effects else 0
    return n * n * (top + top * (top - 1) / 2) + curves


def pack(
    plan: Plan, jobs: Sequence[Job], *, slots: int, startup_s: float = STARTUP_S
) -> list[ComputeTask]:
    """The jobs in at most ``slots`` tasks, as many as give the earliest estimated finish (the
    most of them on a tie: one task per job when there are slots for all).

    Within a task, jobs keep the order of ``jobs``; tasks come longest first. The
    interactions-and-effects job (``STEPS_JOB``) goes last into the task of its output's first
    counted method, whose ranking it reads there.
    """
    if not jobs:
        return []
    steps = [job for job in jobs if job.method == STEPS_JOB]
    jobs = [job for job in jobs if job.method != STEPS_JOB]
    costs = {job: estimated_seconds(plan, job) for job in [*jobs, *steps]}
    longest_first = sorted(jobs, key=lambda j: -costs[j])
    best: list[list[Job]] = []
    best_finish = float("inf")
    for n_tasks in range(1, min(slots, len(jobs)) + 1):
        bins: list[list[Job]] = [[] for _ in range(n_tasks)]
        loads = [0.0] * n_tasks
        for job in longest_first:
            i = loads.index(min(loads))
            bins[i].append(job)
            loads[i] += costs[job]
        finish = startup_s + max(loads)
        if finish <= best_finish + 1e-9:  # on a tie, more tasks: the slots are there
            best, best_finish = bins, finish
    order = {job: i for i, job in enumerate(jobs)}
    best = [sorted(b, key=order.__getitem__) for b in best] or [[]]
    for job in steps:  # after its output's first counted method, in that method's task
        first = next((m for m in plan.config.counted_methods), None)
        home = next(
            (b for b in best if any(j.method == first and j.output == job.output for j in b)),
            min(best, key=lambda b: sum(costs[j] for j in b)),
        )
        home.append(job)
    tasks = [ComputeTask(tuple(b), startup_s + sum(costs[j] for j in b)) for b in best]
    return sorted(tasks, key=lambda t: -t.estimated_s)
