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
    check_budget,
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


# Orderings per loop with n_permutations set (the package's own draws for that loop size).
# Converging, loops double from FIRST_LOOP to LAST_LOOP orderings: a fixed schedule, so that the
# same seed gives the same draws unless the budget cuts a loop short. A loop is one progress
# step and one budget check (512 orderings of 100 features: about 2 s here).
LOOP_ORDERINGS = 128
FIRST_LOOP, LAST_LOOP = 16, 512
DEFAULT_BUDGET_S = 10.0


class Sage:
    """Global Shapley values of the model's loss, with their standard errors.

    Uses the ``sage-importance`` package (by SAGE's authors; version 0.0.6 works with today's
    numpy): a ``MarginalImputer`` over a background sample and the ``PermutationEstimator``'s
    own sampling of orderings and its running estimate, driven here loop by loop (the same
    draws as the package for the same seed and loop size; loops double from 16 to 512
    orderings, or are 128 with ``n_permutations``) so that it can report progress and stop on
    time. It stops when the largest standard error is below
    ``thresh`` times the range of the values (the package's convergence test), after
    ``n_permutations`` orderings when that is set, or when the next loop would pass
    ``time_budget_s``; ``settings["stopped_by"]`` says which, and the standard errors say how
    precise the values are. The loss is mean squared error for regression and cross entropy for
    classification (SAGE's own estimators take no other).

    Parameters
    ----------
    n_background : int, default=64
    max_samples : float or int, default=512
        Rows the loss is estimated on.
    thresh : float, default=0.05
        Convergence threshold.
    n_permutations : int, default=0
        A fixed number of sampled orderings instead of the convergence test (0 = converge).
    time_budget_s : float, default=10
        Seconds the sampling may take (0 = no limit); at least one loop always runs.
    random_state, groups
        Groups are handled by SAGE itself (``GroupedMarginalImputer``).
    """

    name: ClassVar[str] = "sage"
    needs_data: ClassVar[bool] = True
    uses_labels: ClassVar[bool] = True

    def __init__(
        self,
        *,
        n_background: int = 64,
        max_samples: float | int = 512,
        thresh: float = 0.05,
        n_permutations: int = 0,
        time_budget_s: float = DEFAULT_BUDGET_S,
        random_state: RandomState = None,
        groups: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.n_background = check_positive_int("n_background", n_background)
        self.max_samples = check_max_samples(max_samples)
        if not 0 < thresh < 1:
            raise InputError(f"thresh must be in (0, 1), got {thresh}")
        self.thresh = float(thresh)
        self.n_permutations = check_positive_int("n_permutations", n_permutations, minimum=0)
        self.time_budget_s = check_budget(time_budget_s)
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
        mean, std, done, stopped = self._estimate(estimator, X, target, start, progress)
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
                time_budget_s=self.time_budget_s or None,
                n_orderings=done,
                stopped_by=stopped,
                converged=stopped == "convergence" if not self.n_permutations else None,
                seed=self.seed,
                n_rows=len(X),
                groups=self.groups,
            ),
        )

    def _estimate(
        self,
        estimator: Any,
        X: NDArray[np.float32],
        target: NDArray[Any],
        start: float,
        progress: ProgressFn | None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], int, str]:
        """The package's estimator, loop by loop: values, standard errors, orderings sampled,
        and why it stopped."""
        from sage import utils

        n_features = estimator.imputer.num_groups
        loop = min(LOOP_ORDERINGS, self.n_permutations) if self.n_permutations else FIRST_LOOP
        X, target = utils.verify_model_data(estimator.imputer, X, target, estimator.loss_fn, loop)
        estimator.rng = np.random.default_rng(seed=self.seed)
        tracker = utils.ImportanceTracker()
        done, last, seconds_per_loop = 0, 0, 0.0
        while True:
            if self.n_permutations and done >= self.n_permutations:
                stopped = "n_permutations"
                break
            elapsed = time.perf_counter() - start
            if done:  # the next loop: the schedule's, or what the budget still fits
                if not self.n_permutations:
                    loop = min(2 * last, LAST_LOOP)
                fits = int((self.time_budget_s - elapsed) * last / max(seconds_per_loop, 1e-9))
                if self.time_budget_s and (fits < loop if self.n_permutations else fits < 1):
                    stopped = "time_budget"
                    break
                if self.time_budget_s:
                    loop = min(loop, fits)
            began = time.perf_counter()
            rows = estimator.rng.choice(len(X), loop)
            scores, counts = estimator._process_sample(
                X[rows], target[rows], n_features, 0, n_features
            )
            tracker.update(scores, counts)
            done, last = done + loop, loop
            seconds_per_loop = time.perf_counter() - began
            ratio = float(np.max(tracker.std)) / max(float(np.ptp(tracker.values)), 1e-12)
            if progress is not None:  # loops still needed, by the package's own estimate
                needed = self.n_permutations or max(done, int(done * (ratio / self.thresh) ** 2))
                progress(done, needed)
            if not self.n_permutations and ratio < self.thresh:
                stopped = "convergence"
                break
        values = np.asarray(tracker.values, dtype=np.float64)
        return values, np.asarray(tracker.std, dtype=np.float64), done, stopped
