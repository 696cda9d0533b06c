"""The features a model barely uses.

A feature is negligible when every method that makes the consensus says it barely matters:
its importance is below ``SHARE`` of the method's top feature, or, for a loss-based method with
an interval (permutation, conditional permutation, SAGE: the loss's increase), its 95% interval
holds 0 (no change of the loss that the estimate's noise cannot explain). An attribution
method's mean |value| (SHAP, LIME, integrated gradients) is never exactly zero, so only the
share can judge it; a loss-based change can be real and still immaterial, so the share judges
it too.

Requiring every method keeps a feature that any of them finds used. ``SHARE`` is 5%: on the
Friedman #1 test model the five columns the target does not depend on carry at most 0.1% of
the top feature by permutation and SAGE, 1.4% by SHAP, 2.4% by integrated gradients and 3.6% by
LIME (whose local fits add their own noise), and the weakest acting feature (``5 x4`` beside
``10 x3``) 21% or more by every method. A model that spreads its use over many features each
below 5% of the top has them all called negligible: read the importance beside the flag.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from importance_tasks.result import Importance

__all__ = ["SHARE", "negligible"]

SHARE = 0.05


def negligible(
    results: Sequence[Importance], *, counted: Collection[str], loss_based: Collection[str]
) -> tuple[str, ...]:
    """The features (result rows) every result of ``counted`` finds negligible (see the
    module's docstring); none when no result is counted."""
    used = [r for r in results if r.method in counted]
    if not used:
        return ()
    flags = np.ones(len(used[0].features), dtype=bool)
    for result in used:
        size = np.abs(np.nan_to_num(result.mean, nan=0.0))
        small = size <= SHARE * max(float(size.max()), 1e-300)
        if result.method in loss_based and np.any(result.ci_high > result.ci_low):
            small |= np.nan_to_num(result.ci_low, nan=0.0) <= 0.0
        flags &= small
    return tuple(f for f, flag in zip(used[0].features, flags, strict=True) if flag)
