"""Features the data cannot tell anything about.

A column that is constant in the evaluation rows cannot be shuffled, occluded or varied: every
method would report 0 for it, which reads as "least important" when the truth is "not
evaluable on this data". Such features (and groups made only of such columns) get NaN
importance, which ranks after every number, and are listed in ``diagnostics["not_evaluable"]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import BATCH_ROWS, EvalData
from importance_tasks.result import Importance

__all__ = ["constant_features", "mark_not_evaluable"]

REASON = "constant in the evaluation data"


def constant_features(data: EvalData) -> tuple[str, ...]:
    """The columns of ``data`` that hold one value only (computed in row chunks)."""
    X = data.X
    low, high = X[0].copy(), X[0].copy()
    for start in range(0, X.shape[0], BATCH_ROWS):
        chunk = X[start : start + BATCH_ROWS]
        np.minimum(low, chunk.min(axis=0), out=low)
        np.maximum(high, chunk.max(axis=0), out=high)
    return tuple(name for name, same in zip(data.feature_names, low == high, strict=True) if same)


def mark_not_evaluable(result: Importance, constant: Collection[str]) -> Importance:
    """``result`` with NaN for the features made only of ``constant`` columns, and why."""
    constant = set(constant)
    rows = [
        i
        for i, label in enumerate(result.features)
        if set(result.groups.get(label, (label,))) <= constant
    ]
    if not rows:
        return result

    def blank(values: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.array(values, dtype=np.float64)
        out[rows] = np.nan
        return out

    reasons = {**result.diagnostics.get("not_evaluable", {})}
    reasons.update({result.features[i]: REASON for i in rows})
    return dataclasses.replace(
        result,
        mean=blank(result.mean),
        std=blank(result.std),
        ci_low=blank(result.ci_low),
        ci_high=blank(result.ci_high),
        repeats=None if result.repeats is None else blank(result.repeats),
        diagnostics={**result.diagnostics, "not_evaluable": reasons},
    )
