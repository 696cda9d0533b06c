"""Sanity checks of an importance method (Adebayo et al. 2018, "Sanity checks for saliency maps").

Two checks, each comparing the method's result with its result where the thing it should
explain has been destroyed:

- **Cascading model randomisation.** The trainable weights of the top layer are redrawn, then
  of the top two, and so on down to every layer (``keras.randomized``: at most 4 steps, spread
  evenly, the last always every layer), as in the paper. At each step the Spearman correlation
  between the rankings is recorded; the verdict is taken at the last step (every layer
  randomised): a ranking that still correlates by ``threshold`` or more explains the data (or
  the method itself), not the model. The steps before it show where the ranking's information
  lies.
- **Label randomisation**, for the methods that measure importance through a loss against the
  labels (``uses_labels``: permutation, conditional permutation, probe, SAGE). The paper
  retrains on shuffled labels; a stage has no training procedure, so here the labels of the
  evaluation data are shuffled instead. No feature can then help the model fit the labels, so
  no feature's perturbation can raise the loss by what it did: the positive importance (loss
  increase) must vanish. (The importance on shuffled labels is often strongly negative: a
  perturbation that shrinks the output's spread lowers the loss against unrelated labels.) The
  check fails when the positive importance kept on shuffled labels is ``label_threshold`` or
  more of the positive importance on the true labels: such a method measures how much the
  output moves, not how much the model's fit to the labels depends on the feature.

A method passes when every check that applies passes. The consensus leaves out a method that
fails (``ranking.consensus``). A method with a time budget shares its budget between its sanity
runs, so the check costs about as much again as the method, as it did with one randomised run.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from importance_tasks.data import EvalData
from importance_tasks.keras.randomized import cascade_steps, randomized_copy
from importance_tasks.methods.base import ImportanceMethod
from importance_tasks.model import Model
from importance_tasks.result import Importance

__all__ = [
    "DEFAULT_THRESHOLD",
    "LABEL_THRESHOLD",
    "SanityRuns",
    "judge",
    "label_verdict",
    "sanity_runs",
    "shuffled_labels",
    "verdict",
    "with_verdict",
]

DEFAULT_THRESHOLD = 0.8
LABEL_THRESHOLD = 0.5


def shuffled_labels(data: EvalData, *, seed: int) -> EvalData:
    """``data`` with its labels shuffled across rows (rows and weights stay in place)."""
    order = np.random.default_rng([seed, 11]).permutation(data.n_rows)
    return dataclasses.replace(data, y=data.y[order])


@dataclass(frozen=True)
class SanityRuns:
    """A method's results on the cascade of randomised models and on shuffled labels.

    Attributes
    ----------
    cascade : sequence of (top layers randomised, their names, result); the last randomises
        every layer
    labels : Importance or None
        The result on shuffled labels (None for a method that does not use them).
    """

    cascade: Sequence[tuple[int, tuple[str, ...], Importance]]
    labels: Importance | None = None


def _budgeted(method: ImportanceMethod, runs: int) -> ImportanceMethod:
    """``method`` with its time budget (if it has one) shared between ``runs`` runs."""
    budget = getattr(method, "time_budget_s", None)
    if not budget or runs <= 1:
        return method
    lighter = copy.copy(method)
    lighter.time_budget_s = budget / runs  # type: ignore[attr-defined]
    return lighter


def sanity_runs(
    method: ImportanceMethod,
    model: Model,
    data: EvalData,
    *,
    scoring: str = "auto",
    seed: int = 0,
) -> SanityRuns:
    """``method`` on each cascade step's randomised copy of ``model`` and, for a loss-based
    method, on ``data`` with shuffled labels."""
    steps = cascade_steps(model)
    uses_labels = bool(getattr(method, "uses_labels", False))
    runner = _budgeted(method, len(steps) + uses_labels)
    cascade = []
    for top, names in steps:
        result = runner.compute(randomized_copy(model, seed=seed, top=top), data, scoring=scoring)
        cascade.append((top, names, result))
    labels = None
    if uses_labels:
        labels = runner.compute(model, shuffled_labels(data, seed=seed), scoring=scoring)
    return SanityRuns(cascade, labels)


def _spearman(a: Importance, b: Importance) -> float:
    from scipy.stats import spearmanr

    if np.ptp(a.mean) == 0 or np.ptp(b.mean) == 0:
        return 1.0 if np.array_equal(a.mean, b.mean) else 0.0
    return float(spearmanr(a.mean, b.mean, nan_policy="omit").statistic)


def verdict(
    result: Importance, randomized: Importance, *, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """Spearman correlation between the rankings on the model and on its randomised copy, and
    ``passed`` (correlation below ``threshold``)."""
    rho = _spearman(result, randomized)
    return {"spearman": rho, "passed": bool(rho < threshold), "threshold": threshold}


def label_verdict(
    result: Importance, shuffled: Importance, *, threshold: float = LABEL_THRESHOLD
) -> dict[str, Any]:
    """The share of the positive importance (loss increase) kept on shuffled labels
    (``ratio``), and ``passed`` (ratio below ``threshold``). No positive importance on the true
    labels is a failure: there is nothing that the labels explain."""
    true = float(np.nansum(np.clip(result.mean, 0, None)))
    kept = float(np.nansum(np.clip(shuffled.mean, 0, None)))
    ratio = kept / true if true > 0 else 1.0
    return {
        "ratio": ratio,
        "spearman": _spearman(result, shuffled),
        "passed": bool(ratio < threshold),
        "threshold": threshold,
    }


def judge(
    result: Importance,
    runs: SanityRuns,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    label_threshold: float = LABEL_THRESHOLD,
) -> dict[str, Any]:
    """The verdict of every check: ``spearman`` and ``passed`` of the model randomisation at
    the last cascade step, ``cascade`` (Spearman per step), ``labels`` where it applies, the
    overall ``passed`` and, when failed, the ``reason``."""
    steps = [
        {"layers": top, "names": list(names), "spearman": _spearman(result, randomized)}
        for top, names, randomized in runs.cascade
    ]
    found = verdict(result, runs.cascade[-1][2], threshold=threshold)
    model_passed = found["passed"]
    reasons = [] if model_passed else ["ranking barely changes when the model is randomised"]
    out: dict[str, Any] = {**found, "model_passed": model_passed, "cascade": steps}
    if runs.labels is not None:
        labels = label_verdict(result, runs.labels, threshold=label_threshold)
        out["labels"] = labels
        if not labels["passed"]:
            reasons.append(
                f"{labels['ratio']:.0%} of its importance stays when the labels are shuffled"
            )
    out["passed"] = not reasons
    if reasons:
        out["reason"] = "; ".join(reasons)
    return out


def with_verdict(result: Importance, found: Mapping[str, Any]) -> Importance:
    """``result`` with ``diagnostics["sanity"]`` set to ``found``."""
    return dataclasses.replace(result, diagnostics={**result.diagnostics, "sanity": dict(found)})
