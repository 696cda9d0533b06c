"""One method from start to finish, the same way for the in-memory analysis and the stage.

compute -> sanity check (when asked) -> features the data cannot evaluate marked -> result, or
the reason the method cannot run on this model. A method computed in row shards (in one
process, or as parallel tasks) ends in ``finish`` with the same verdict as in one piece: the
randomised model's result is combined from its own shards in the same way.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from importance_tasks.config import AnalysisConfig
from importance_tasks.data import EvalData
from importance_tasks.errors import UnsupportedModelError
from importance_tasks.evaluable import mark_not_evaluable
from importance_tasks.methods import make_method
from importance_tasks.methods._common import ProgressFn
from importance_tasks.model import Model
from importance_tasks.result import Importance
from importance_tasks.sanity import SanityRuns, judge, sanity_runs, verdict, with_verdict

__all__ = ["MethodOutcome", "finish", "run_method"]


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
    scoring, seed = config.scoring, config.seed
    try:
        result = method.compute(model, data, scoring=scoring, progress=progress)
    except UnsupportedModelError as exc:
        return MethodOutcome(method.name, skipped=str(exc))
    randomized: SanityRuns | str | None = None
    if config.sanity_check:
        try:
            randomized = sanity_runs(method, model, data, scoring=scoring, seed=seed)
        except UnsupportedModelError as exc:
            randomized = str(exc)
    return MethodOutcome(
        method.name, result=finish(result, randomized=randomized, constant=constant)
    )
