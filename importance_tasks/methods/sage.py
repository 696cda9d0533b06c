"""SAGE: Shapley additive global importance of the loss (Covert, Lundberg & Lee 2020)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import EvalData
from importance_tasks.errors import InputError
from importance_tasks.methods._common import (
    Z_95,
    ProgressFn,
    RandomState,
    check_max_samples,
    check_positive_int,
    draw_sample,
    draw_seed,
    make_result,
    settings_of,
)
from importance_tasks.model import Model
from importance_tasks.result import Importance
from importance_tasks.scoring import get_scorer

__all__ = ["Sage"]


class Sage:
    """Global Shapley values of the model's loss, with their standard errors.

    Uses the ``sage-importance`` package (by SAGE's authors; version 0.0.6 works with today's
    numpy): a ``MarginalImputer`` over a background sample and the ``PermutationEstimator``,
    which samples feature orderings until the largest standard error is below ``thresh``
    times the range of the values (its convergence test). The loss is mean squared error for
    regression and cross entropy for classification (SAGE's own estimators take no other).

    Parameters
    ----------
    n_background : int, default=64
    max_samples : float or int, default=512
        Rows the loss is estimated on.
    thresh : float, default=0.05
        Convergence threshold.
    n_permutations : int, default=0
        A fixed number of sampled orderings instead of the convergence test (0 = converge).
    random_state, groups
        Groups are handled by SAGE itself (``GroupedMarginalImputer``).
    """

    name: ClassVar[str] = "sage"
    needs_data: ClassVar[bool] = True

    def __init__(
        self,
        *,
        n_background: int = 64,
        max_samples: float | int = 512,
        thresh: float = 0.05,
        n_permutations: int = 0,
        random_state: RandomState = None,
        groups: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.n_background = check_positive_int("n_background", n_background)
        self.max_samples = check_max_samples(max_samples)
        if not 0 < thresh < 1:
            raise InputError(f"thresh must be in (0, 1), got {thresh}")
        self.thresh = float(thresh)
        self.n_permutations = check_positive_int("n_permutations", n_permutations, minimum=0)
        self.seed = draw_seed(random_state)
        self.groups = dict(groups or {})

    def compute(
        self,
        model: Model,
        data: EvalData,
        *,
        scoring: str = "auto",
        progress: ProgressFn | None = None,
    ) -> Importance:
        import sage

        start = time.perf_counter()
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=self.max_samples)
        rows, rng, X, y = sample.rows, sample.rng, sample.X, sample.y
        background = data.X[rng.choice(data.n_rows, min(self.n_background, data.n_rows), False)]
        output = model.predict(X)
        task = get_scorer(scoring, output=output, y=y).task
        loss = "cross entropy" if task == "classification" else "mse"

        def predict(batch: NDArray[Any]) -> NDArray[np.float64]:
            out = model.predict(np.asarray(batch, dtype=np.float32))
            if task == "classification" and out.shape[1] == 1:
                return np.column_stack([1 - out[:, 0], out[:, 0]])
            return out if out.shape[1] > 1 else out[:, 0]

        if self.groups:
            imputer: Any = sage.GroupedMarginalImputer(
                predict, background, [list(r.columns) for r in rows]
            )
        else:
            imputer = sage.MarginalImputer(predict, background)
        estimator = sage.PermutationEstimator(imputer, loss, random_state=self.seed)
        target = y.astype(np.int64) if task == "classification" else y.astype(np.float64)
        explanation = estimator(
            X,
            target,
            # sage samples batch_size orderings per loop: never more than were asked for
            batch_size=min(4096, self.n_permutations) if self.n_permutations else 4096,
            thresh=self.thresh,
            n_permutations=self.n_permutations or None,
            detect_convergence=not self.n_permutations,
            bar=False,
        )
        mean = np.asarray(explanation.values, dtype=np.float64)
        std = np.asarray(explanation.std, dtype=np.float64)
        if progress is not None:
            progress(1, 1)
        return make_result(
            self.name,
            rows,
            mean=mean,
            std=std,
            ci_low=mean - Z_95 * std,
            ci_high=mean + Z_95 * std,
            started=start,
            settings=settings_of(
                loss=loss,
                n_background=len(background),
                thresh=self.thresh,
                n_permutations=self.n_permutations or None,
                converged=bool(np.max(std) <= self.thresh * max(np.ptp(mean), 1e-12) * 1.0001)
                if not self.n_permutations
                else None,
                seed=self.seed,
                n_rows=len(X),
                groups=self.groups,
            ),
        )
