"""Drift that is real: a feature is flagged when its importance changed beyond both
estimates' uncertainty and by a material amount, with the false-alarm rate held over all the
features of a window; and which columns' distributions moved.

The test per feature is Welch's: ``(window - baseline) / sqrt(se_b^2 + se_w^2)`` against
Student's t with the smaller of the two estimates' degrees of freedom (``Estimate.df``: the
blocks of rows less one, ``monitor.estimates``), two-sided. Holm's step-down procedure over the
features (and methods) of a window holds the chance of any false flag at ``alpha`` (Holm 1979;
written here, four lines, since scipy has only Benjamini-Hochberg and statsmodels is not a
dependency). Materiality: the change must be at least ``materiality`` of the baseline's total
importance, so that a noise feature going from 0.5% to 1.5% is not news.

A column's distribution is compared with the baseline's by scipy's two-sample
Kolmogorov-Smirnov test (numbers) or a chi-square test of the value counts (coded columns:
strings, categories), Holm over the columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import EvalData
from importance_tasks.monitor import ALPHA, MATERIALITY
from importance_tasks.monitor.estimates import Estimate

__all__ = ["Flag", "flagged", "holm", "moved_columns"]


@dataclass(frozen=True)
class Flag:
    """A feature whose importance changed: by which method, from what to what, how sure."""

    feature: str
    method: str
    baseline: float
    window: float
    share: float  # the change as a share of the baseline's total importance
    p_value: float  # after Holm's adjustment over the window's tests

    def reason(self, *, moved: bool) -> str:
        """One line for people: the change, and whether the input moved or its use did."""
        way = "rose" if self.window > self.baseline else "fell"
        why = (
            "its input distribution moved"
            if moved
            else "its input distribution did not move: the model's use of it changed"
        )
        return (
            f"{self.method} importance {way} from {self.baseline:.3g} to {self.window:.3g} "
            f"({self.share:+.1%} of the baseline's total, p={self.p_value:.2g} after Holm); {why}"
        )


def holm(p_values: Sequence[float]) -> NDArray[np.float64]:
    """Holm's step-down adjusted p-values (reject where adjusted <= alpha)."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def _p_value(base: Estimate, window: Estimate, i: int, j: int) -> float:
    from scipy.stats import t

    diff = float(window.mean[j] - base.mean[i])
    scale = float(np.hypot(base.se[i], window.se[j]))
    if scale == 0.0:
        return 1.0 if diff == 0.0 else 0.0
    return float(2 * t.sf(abs(diff) / scale, min(base.df, window.df)))


def flagged(
    baselines: Mapping[str, Estimate],
    windows: Mapping[str, Estimate],
    *,
    alpha: float = ALPHA,
    materiality: float = MATERIALITY,
) -> list[Flag]:
    """The features whose importance changed, by each method both analyses have: Holm over
    every (method, feature) test of the window at ``alpha``, and a change of at least
    ``materiality`` of the method's baseline total. Largest change first."""
    tests: list[tuple[str, str, float, float, float, float]] = []
    for method, base in baselines.items():
        window = windows.get(method)
        if window is None:
            continue
        total = float(np.clip(base.mean, 0.0, None).sum())
        position = {f: j for j, f in enumerate(window.features)}
        for i, feature in enumerate(base.features):
            if feature not in position:
                continue
            j = position[feature]
            before, after = float(base.mean[i]), float(window.mean[j])
            share = (after - before) / total if total > 0 else 0.0
            tests.append((feature, method, before, after, share, _p_value(base, window, i, j)))
    if not tests:
        return []
    adjusted = holm([test[5] for test in tests])
    flags = [
        Flag(feature, method, before, after, share, float(p))
        for (feature, method, before, after, share, _), p in zip(tests, adjusted, strict=True)
        if p <= alpha and abs(share) >= materiality
    ]
    return sorted(flags, key=lambda f: -abs(f.share))


def moved_columns(
    baseline: EvalData, window: EvalData, *, alpha: float = ALPHA
) -> dict[str, float]:
    """The feature columns whose distribution in ``window`` differs from ``baseline``'s,
    each with its Holm-adjusted p-value."""
    names = [c for c in baseline.feature_names if c in window.feature_names]
    p_values = [_column_p(baseline, window, name) for name in names]
    if not names:
        return {}
    adjusted = holm(p_values)
    return {n: float(p) for n, p in zip(names, adjusted, strict=True) if p <= alpha}


def _column_p(baseline: EvalData, window: EvalData, name: str) -> float:
    from scipy.stats import chi2_contingency, ks_2samp

    before = _values(baseline, name)
    after = _values(window, name)
    if name not in baseline.categories and name not in window.categories:
        if np.array_equal(np.unique(before), np.unique(after)) and len(np.unique(before)) == 1:
            return 1.0  # the same constant in both
        return float(ks_2samp(before, after).pvalue)
    values = sorted(set(before.tolist()) | set(after.tolist()), key=str)
    if len(values) < 2:
        return 1.0
    index = {v: k for k, v in enumerate(values)}
    counts = np.zeros((2, len(values)))
    for row, column in enumerate((before, after)):
        np.add.at(counts[row], [index[v] for v in column.tolist()], 1)
    return float(chi2_contingency(counts).pvalue)


def _values(data: EvalData, name: str) -> NDArray[np.generic]:
    column = data.X[:, data.feature_names.index(name)]
    vocabulary = data.categories.get(name)
    if vocabulary is None:
        return column
    return np.asarray(vocabulary)[column.astype(np.intp)].astype(str)
