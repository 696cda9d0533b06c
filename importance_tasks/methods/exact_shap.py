"""Exact SHAP values for a few features, as shap's ``Exact`` explainer computes them with an
``Independent`` masker: every coalition's mean output over the background rows, combined with
Shapley's weights.

For a row ``x`` and a coalition ``S`` of its features, ``v(S)`` is the mean over background
rows ``b`` of the model's output at ``x`` on ``S`` and ``b`` elsewhere; feature ``i``'s value is
the sum over the coalitions ``S`` without ``i`` of ``|S|! (M - |S| - 1)! / M!`` times
``v(S + i) - v(S)``. The ``2**M`` coalitions of a block of rows go through the model in one
call (``Model.predict`` batches it).

Why not shap itself: its ``Exact`` explainer runs numba kernels that are compiled again in every
new process, about 6 s here before the first row (shap 0.51: a first call on a sum of six
features took 5.8 s, the next 2 ms), which every analysis of a model with eight features or fewer
paid in each task. The values are the same (tested against shap's).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np
from numpy.typing import NDArray

from importance_tasks.model import Model

__all__ = ["ExactShap"]

# Masked copies per model call: about 8 rows of 8 features over 1,000 background rows.
BLOCK_BYTES = 64 * 2**20


@dataclass
class ExactShap:
    """SHAP values of rows over every coalition of their features.

    Parameters
    ----------
    model : Model
    background : ndarray of shape (n_background, n_features)
        The rows that absent features take their values from.
    """

    model: Model
    background: NDArray[np.float32]

    def __post_init__(self) -> None:
        self.background = np.ascontiguousarray(self.background, dtype=np.float32)
        n = self.background.shape[1]
        codes = np.arange(2**n)
        # Coalition ``c`` holds feature ``i`` where bit ``i`` of ``c`` is set.
        self.present = ((codes[:, None] >> np.arange(n)) & 1).astype(bool)
        sizes = self.present.sum(axis=1)
        # For each feature, the coalitions without it and their Shapley weights.
        self.without = [codes[~self.present[:, i]] for i in range(n)]
        weight = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
        self.weights = [weight[sizes[c]] for c in self.without]

    def explain(self, rows: NDArray[np.float32]) -> NDArray[np.float64]:
        """SHAP values of ``rows``: shape (n_rows, n_features, n_outputs), as many rows per
        model call as keep the masked copies within ``BLOCK_BYTES``."""
        rows = np.asarray(rows, dtype=np.float32)
        per_row = self.present.size * len(self.background) * 4
        step = max(1, BLOCK_BYTES // per_row)
        return np.concatenate([self._block(rows[i : i + step]) for i in range(0, len(rows), step)])

    def _block(self, rows: NDArray[np.float32]) -> NDArray[np.float64]:
        n_rows, n = rows.shape
        n_coalitions, n_background = len(self.present), len(self.background)
        # (row, coalition, background row, feature): the row's values where the coalition
        # holds the feature, the background row's elsewhere.
        masked = np.where(
            self.present[None, :, None, :], rows[:, None, None, :], self.background[None, None]
        )
        out = self.model.predict(masked.reshape(-1, n))
        value = out.reshape(n_rows, n_coalitions, n_background, -1).mean(axis=2)
        shap = np.empty((n_rows, n, value.shape[-1]))
        for i, (without, weight) in enumerate(zip(self.without, self.weights, strict=True)):
            gain = value[:, without | (1 << i)] - value[:, without]
            shap[:, i] = np.einsum("c,rck->rk", weight, gain)
        return shap
