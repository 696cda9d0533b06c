"""Permutation SHAP values (Strumbelj & Kononenko 2014), as shap's ``Permutation`` explainer
computes them with an ``Independent`` masker, vectorised over orderings and background rows.

For a row ``x``, an ordering of its features and background rows ``b``: start from the
background, switch the features to ``x``'s values one at a time in that order, then back to the
background in the same order (shap's antithetic pair); each feature's value is the mean over
background rows of the output's change when it is switched on, and of the change when it is
switched off, averaged over the orderings. shap draws its orderings with numpy's legacy
generator (``np.random.seed(seed)``, one in-place ``shuffle`` per ordering); so does this, so
the same seed gives shap's values (tested).

Why not shap itself: shap evaluates one row's orderings through numba kernels that it compiles
again in every new process (the one with a ``link`` argument cannot be cached), 8-11 s before
the first row on the benchmark machine; and its masked model is called once per ordering. Here
the orderings of a row are stacked into few model calls, through a first Dense layer's running
sums where the model has one (``importance_tasks.methods.walks``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from importance_tasks.methods.walks import Walks
from importance_tasks.model import Model

__all__ = ["PermutationShap"]


@dataclass
class PermutationShap:
    """SHAP values of rows of ``X``, one call of ``explain`` per block of rows, the orderings
    drawn in row order from one generator (so blocks give the values of one call).

    Parameters
    ----------
    model : Model
    background : ndarray of shape (n_background, n_features)
    max_evals : int
        Evaluations per row: ``max_evals // (2 * varying + 1)`` orderings, at least one.
    seed : int
    """

    model: Model
    background: NDArray[np.float32]
    max_evals: int
    seed: int

    def __post_init__(self) -> None:
        self.background = np.ascontiguousarray(self.background, dtype=np.float32)
        self.draws = np.random.RandomState(self.seed)
        self.walks = Walks(self.model, self.background)

    def explain(self, rows: NDArray[np.float32]) -> NDArray[np.float64]:
        """SHAP values of ``rows``: shape (n_rows, n_features, n_outputs)."""
        return np.stack([self._row(np.asarray(x, dtype=np.float32)) for x in rows])

    def _row(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        varying = np.flatnonzero(np.any(self.background != x, axis=0))
        n_features = x.shape[0]
        if not varying.size:
            n_outputs = self.model.predict(x[None]).shape[1]
            return np.zeros((n_features, n_outputs))
        n_orderings = max(1, self.max_evals // (2 * len(varying) + 1))
        orders = np.empty((n_orderings, len(varying)), dtype=np.intp)
        for k in range(n_orderings):  # shap's draws: one in-place shuffle per ordering
            self.draws.shuffle(varying)
            orders[k] = varying
        position = np.full((n_orderings, n_features), -1, dtype=np.intp)
        np.put_along_axis(position, orders, np.arange(len(varying))[None], axis=1)
        xs = np.broadcast_to(x, (n_orderings, n_features))
        means = self.walks.means(xs, position, antithetic=True)  # (orderings, 2m + 1, outputs)
        m = len(varying)
        on = means[:, 1 : m + 1] - means[:, :m]
        off = means[:, m : 2 * m] - means[:, m + 1 :]
        total = np.zeros((n_features, means.shape[2]))
        np.add.at(total, orders, on + off)
        return total / (2 * n_orderings)
