"""SAGE: Shapley additive global importance of the loss (Covert, Lundberg & Lee 2020)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from importance_tasks.methods._work import (
    check_budget,
    guard_status,
    multiply_adds_in,
    passed,
    state_cost,
)
from importance_tasks.methods.walks import Walks
from importance_tasks.model import Model
from importance_tasks.result import Importance
from importance_tasks.scoring import get_scorer

__all__ = ["Sage"]


# Orderings per loop with n_permutations set (the package's own draws for that loop size).
# Converging, loops double from FIRST_LOOP to LAST_LOOP orderings: a fixed schedule, so that the
# same seed gives the same draws; a loop is one progress step, one convergence test and one
# guard check.
LOOP_ORDERINGS = 128
FIRST_LOOP, LAST_LOOP = 16, 512
# The work sized ahead (``importance_tasks.methods._work``): at most about WORK_S_PER_PLAYER
# reference seconds of orderings per player, between WORK_S and MAX_WORK_S, and never fewer
# orderings than MIN_ORDERINGS. The convergence test takes the largest standard error over the
# players, so wider data needs more orderings (measured on the benchmark's classifiers: about
# 3,400 orderings at 100 features, 7,000 at 500, 0.4 us per walk state on 2 cores).
WORK_S, WORK_S_PER_PLAYER, MAX_WORK_S = 8.0, 0.2, 100.0
MIN_ORDERINGS = 256


class Sage:
    """Global Shapley values of the model's loss, with their standard errors.

    SAGE's permutation estimator as the ``sage-importance`` package (by SAGE's authors)
    computes it with a ``MarginalImputer`` over a background sample: the same draws for the
    same seed and loop size (loops double from 16 to 512 orderings, or are 128 with
    ``n_permutations``), its loss functions and running estimate (``ImportanceTracker``), but
    each ordering's coalitions evaluated as one walk (``importance_tasks.methods.walks``:
    through a first Dense layer's running sums where the model has one) instead of one imputer
    call per feature. It stops when the largest standard error is below ``thresh`` times the
    range of the values (the package's convergence test, a rule on the values), or after
    ``n_permutations`` orderings when that is set. Converging, it stops at the latest after the
    orderings that 0.2 reference seconds of evaluations per player buy (8 to 100 s; from the
    model's cost, counted from its layers, and the data's width: never a clock); not converged
    by then, the result is ``insufficient``. The loss is mean squared error for regression and
    cross entropy for classification (SAGE's own estimators take no other).

    Parameters
    ----------
    n_background : int, default=64
    max_samples : float or int, default=512
        Rows the loss is estimated on.
    thresh : float, default=0.05
        Convergence threshold.
    n_permutations : int, default=0
        A fixed number of sampled orderings instead of the convergence test (0 = converge).
    time_budget_s : float, default=0
        A guard, not a size: when passed, the method stops after the current loop and its
        result is ``incomplete`` (0 = no guard).
    random_state, groups
        A group is one player of the game (its columns switched together).
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
        time_budget_s: float = 0.0,
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

    @staticmethod
    def typical_seconds(n_units: int) -> float:
        """Reference seconds of its most work for ``n_units`` players."""
        return float(np.clip(WORK_S_PER_PLAYER * n_units, WORK_S, MAX_WORK_S))

    def work(self, model: Model, n_rows: int, n_units: int) -> int:
        """The most orderings it samples: ``n_permutations``, or what the reference seconds
        sized for ``n_units`` players buy (at least MIN_ORDERINGS)."""
        if self.n_permutations:
            return self.n_permutations
        background = min(self.n_background, n_rows)
        per_ordering = (n_units + 1) * background * state_cost(model)
        seconds = self.typical_seconds(n_units)
        return max(MIN_ORDERINGS, int(multiply_adds_in(seconds) // per_ordering))

    def compute(
        self,
        model: Model,
        data: EvalData,
        *,
        scoring: str = "auto",
        progress: ProgressFn | None = None,
    ) -> Importance:
        from sage import utils

        start = time.perf_counter()
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=self.max_samples)
        rows, rng, X, y = sample.rows, sample.rng, sample.X, sample.y
        background = data.X[rng.choice(data.n_rows, min(self.n_background, data.n_rows), False)]
        output = model.predict(X)
        task = get_scorer(scoring, output=output, y=y).task
        classify = task == "classification"
        loss = utils.get_loss("cross entropy" if classify else "mse", reduction="none")
        target = y.astype(np.int64) if classify else y.astype(np.float64)
        if classify and target.ndim == 2:
            target = target[:, 0]
        player = np.empty(data.X.shape[1], dtype=np.intp)
        for unit, row in enumerate(rows):
            player[row.columns] = unit
        most = self.work(model, data.n_rows, len(rows))
        game = _Game(Walks(model, background), X, target, player, len(rows), loss)
        mean, std, done, converged = self._estimate(game, most, start, progress)
        if converged or self.n_permutations or done < most:  # done, or ended by the guard
            planned = done if converged else most
            status = guard_status(done, planned, "orderings", self.time_budget_s)
        else:
            status = (
                "insufficient",
                f"not converged within the {most} orderings sized for this model and data "
                f"(largest standard error above {self.thresh:g} of the values' range); give "
                "n_permutations or a larger thresh",
            )
        return make_result(
            self.name,
            rows,
            mean=mean,
            std=std,
            ci_low=mean - Z_95 * std,
            ci_high=mean + Z_95 * std,
            started=start,
            status=status,
            settings=settings_of(
                loss="cross entropy" if classify else "mse",
                n_background=len(background),
                thresh=self.thresh,
                n_permutations=self.n_permutations or None,
                max_orderings=None if self.n_permutations else most,
                time_budget_s=self.time_budget_s or None,
                n_orderings=done,
                converged=converged if not self.n_permutations else None,
                seed=self.seed,
                n_rows=len(X),
                groups=self.groups,
            ),
        )

    def _estimate(
        self, game: _Game, most: int, start: float, progress: ProgressFn | None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], int, bool]:
        """The package's estimator, loop by loop: values, standard errors, orderings sampled,
        and whether they converged."""
        from sage import utils

        rng = np.random.default_rng(seed=self.seed)
        tracker = utils.ImportanceTracker()
        loop = min(LOOP_ORDERINGS, most) if self.n_permutations else FIRST_LOOP
        done, converged = 0, False
        while done < most and not (done and passed(start, self.time_budget_s)):
            loop = min(loop, most - done)
            picked = rng.choice(len(game.X), loop)
            orders = np.tile(np.arange(game.n_units), (loop, 1))
            for order in orders:  # the package's draws: one in-place shuffle per ordering
                rng.shuffle(order)
            tracker.update(game.scores(picked, orders))
            done += loop
            ratio = float(np.max(tracker.std)) / max(float(np.ptp(tracker.values)), 1e-12)
            if progress is not None:  # orderings still needed, by the package's own estimate
                needed = self.n_permutations or max(done, int(done * (ratio / self.thresh) ** 2))
                progress(done, min(needed, most))
            if not self.n_permutations:
                if ratio < self.thresh:
                    converged = True
                    break
                loop = min(2 * loop, LAST_LOOP)
        values = np.asarray(tracker.values, dtype=np.float64)
        return values, np.asarray(tracker.std, dtype=np.float64), done, converged


@dataclass(frozen=True)
class _Game:
    """SAGE's cooperative game on the sampled rows: each ordering of the players (units) a
    walk from the background to the row, scored by the loss it removes at each step."""

    walks: Walks
    X: NDArray[np.float32]
    target: NDArray[Any]
    player: NDArray[np.intp]  # per column, the unit holding it
    n_units: int
    loss: Any

    def scores(self, picked: NDArray[np.intp], orders: NDArray[np.intp]) -> NDArray[np.float64]:
        """Per ordering, each unit's loss removed when it joins: shape (orderings, units)."""
        place = np.empty_like(orders)
        np.put_along_axis(place, orders, np.arange(self.n_units)[None], axis=1)
        position = place[:, self.player]
        means = self.walks.means(self.X[picked], position, antithetic=False)  # (k, m + 1, out)
        if self.loss.__class__.__name__ == "CrossEntropyLoss" and means.shape[2] == 1:
            means = np.concatenate([1 - means, means], axis=2)
        if means.shape[2] == 1:
            means = means[:, :, 0]
        k, states = means.shape[:2]
        flat = np.repeat(self.target[picked], states, axis=0)
        losses = self.loss(means.reshape(k * states, *means.shape[2:]), flat).reshape(k, states)
        scores = np.empty((k, self.n_units))
        np.put_along_axis(scores, orders, losses[:, :-1] - losses[:, 1:], axis=1)
        return scores
