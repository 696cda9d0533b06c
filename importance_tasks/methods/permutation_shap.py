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
the first row on the benchmark machine, more than the default time budget of a whole Airflow
task; and its masked model is called once per ordering. Here the orderings of a row are
stacked into few model calls. (A walk is also a chain of rank-1 updates of a first Dense
layer's pre-activations; accumulated in numpy that was twice as slow as the forward pass on
the benchmark's 100-feature model, so it is not used.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from importance_tasks.model import Model

__all__ = ["PermutationShap"]

BLOCK_BYTES = 32 * 2**20  # stacked inputs (or pre-activations) per model call


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
        orders = []
        for _ in range(n_orderings):  # shap's draws: one in-place shuffle per ordering
            self.draws.shuffle(varying)
            orders.append(varying.copy())
        total: NDArray[np.float64] | None = None
        for block in self._blocks(orders):
            means = self._walk_means(x, block)  # (orderings, 2m + 1, outputs)
            m = block.shape[1]
            on = means[:, 1 : m + 1] - means[:, :m]
            off = means[:, m : 2 * m] - means[:, m + 1 :]
            if total is None:
                total = np.zeros((n_features, means.shape[2]))
            np.add.at(total, block, on + off)
        assert total is not None
        return total / (2 * n_orderings)

    def _blocks(self, orders: list[NDArray[np.intp]]) -> Iterator[NDArray[np.intp]]:
        m, (n_background, width) = len(orders[0]), self.background.shape
        per_walk = (2 * m + 1) * n_background * width * 4
        step = max(1, BLOCK_BYTES // per_walk)
        for i in range(0, len(orders), step):
            yield np.stack(orders[i : i + step])

    def _walk_means(self, x: NDArray[np.float32], orders: NDArray[np.intp]) -> NDArray[np.float64]:
        """Mean output over the background at each of the 2m + 1 states of each walk."""
        n_walks, m = orders.shape
        n_background = len(self.background)
        outputs = self.model.predict(self._walk_inputs(x, orders).reshape(-1, x.shape[0]))
        return outputs.reshape(n_walks, 2 * m + 1, n_background, -1).mean(axis=2)

    def _walk_inputs(self, x: NDArray[np.float32], orders: NDArray[np.intp]) -> NDArray[np.float32]:
        """The inputs of every state: (walks, 2m + 1, background, features). The feature at
        position r of an ordering is on (x's value) from state r + 1 to state m + r."""
        n_walks, m = orders.shape
        position = np.full((n_walks, x.shape[0]), -1)
        np.put_along_axis(position, orders, np.broadcast_to(np.arange(m), orders.shape), axis=1)
        state = np.arange(2 * m + 1)[None, :, None]
        at = position[:, None, :]
        on = (at >= 0) & (state > at) & (state <= at + m)
        return np.where(on[:, :, None, :], x, self.background[None, None])
