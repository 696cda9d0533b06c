"""One method from start to finish, the same way for the in-memory analysis and the stage.

compute -> sanity check (when asked) -> features the data cannot evaluate marked -> result, or
the reason the method cannot run on this model. A method computed in row shards (in one
process, or as parallel tasks) ends in ``finish`` with the same verdict as in one piece: the
randomised model's result is combined from its own shards in the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from importance_tasks.config import AnalysisConfig
from importance_tasks.data import EvalData
from importance_tasks.errors import UnsupportedModelError
from importance_tasks.evaluable import mark_not_evaluable
from importance_tasks.methods import ImportanceMethod, make_method
from importance_tasks.methods._common import ProgressFn
from importance_tasks.methods.base import STEP_ROWS
from importance_tasks.model import Model
from importance_tasks.result import Importance
from importance_tasks.sanity import SanityRuns, judge, sanity_runs, verdict, with_verdict

__all__ = [
    "MethodOutcome",
    "finish",
    "run_method",
    "step_profile",
    "stepped",
]


@dataclass(frozen=True)
class MethodOutcome:
    """A method's result, or why it was skipped (e.g. ``weights`` on a model that is not a
    Dense stack); exactly one of the two is set."""

    method: str
    result: Importance | None = None
    skipped: str | None = None


def finish(
    result: Importance,
    *,
    randomized: SanityRuns | Importance | str | None,
    constant: Collection[str],
) -> Importance:
    """The result with its sanity verdict (``randomized``: the method's sanity runs, or only
    its result on the fully randomised model (row shards), the reason there is none, or None
    when no check was asked) and its not-evaluable features marked."""
    if isinstance(randomized, SanityRuns):
        result = with_verdict(result, judge(result, randomized))
    elif isinstance(randomized, Importance):
        result = with_verdict(result, verdict(result, randomized))
    elif isinstance(randomized, str):
        result = with_verdict(result, {"skipped": randomized})
    return mark_not_evaluable(result, constant)


def step_profile(
    method: ImportanceMethod, model: Model, data: EvalData, *, scoring: str
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """A sequence model's importance per variable and step (oldest step first), and the
    settings it was computed with: ``method``'s lighter copy (``for_step_profile``) on the
    window's cells alone, on at most ``STEP_ROWS`` windows: T times the variables' work, kept
    to a sample."""
    lighter = method.for_step_profile(min(data.n_rows, STEP_ROWS))
    cells = lighter.compute(model, data, scoring=scoring)
    at = dict(zip(cells.features, map(float, cells.mean), strict=True))
    found = model.variable_cells()  # type: ignore[attr-defined]
    profile = {variable: [at[c] for c in members] for variable, members in found.items()}
    return profile, {k: cells.settings[k] for k in ("n_rows", "n_repeats") if k in cells.settings}


def stepped(method: ImportanceMethod, model: Model) -> bool:
    """Whether ``method`` also gives ``model``'s importance per step (a sequence model)."""
    return method.per_step and bool(getattr(model, "window_steps", 0))


def run_method(
    name: str,
    config: AnalysisConfig,
    model: Model,
    data: EvalData,
    *,
    constant: Collection[str],
    progress: ProgressFn | None = None,
) -> MethodOutcome:
    """Compute method ``name`` as ``config`` sets it up, check it when ``config`` asks, mark
    what the data cannot evaluate (``constant``: the data's constant columns)."""
    method = make_method(name, **config.options_for(name))
    scoring, seed = config.scoring_for(None), config.seed
    try:
        result = method.compute(model, data, scoring=scoring, progress=progress)
    except UnsupportedModelError as exc:
        return MethodOutcome(method.name, skipped=str(exc))
    if stepped(method, model):
        profile, used = step_profile(method, model, data, scoring=scoring)
        steps = {"by_step": profile, "by_step_settings": used}
        result = dataclasses.replace(result, diagnostics={**result.diagnostics, **steps})
    randomized: SanityRuns | str | None = None
    if config.sanity_check:
        try:
            randomized = sanity_runs(method, model, data, scoring=scoring, seed=seed)
        except UnsupportedModelError as exc:
            randomized = str(exc)
    return MethodOutcome(
        method.name, result=finish(result, randomized=randomized, constant=constant)
    )
