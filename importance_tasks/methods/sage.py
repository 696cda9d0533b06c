"""SAGE: Shapley additive global importance of the loss (Covert, Lundberg & Lee 2020)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from importance_tasks.contract import MethodStatus
from importance_tasks.methods._common import (
    Z_95,
    ProgressFn,
    draw_sample,
    make_result,
    settings_of,
)
from importance_tasks.methods._work import (
    guard_status,
    multiply_adds_in,
    passed,
    state_cost,
    time_guard,
)
from importance_tasks.methods.base import Run, Seeded, integer, option, rows_option
from importance_tasks.methods.walks import Walks
from importance_tasks.model import Model
from importance_tasks.result import Importance
from importance_tasks.scoring import get_scorer

__all__ = ["Sage"]


# Orderings are sampled in chunks of CHUNK, each chunk with its own background rows: the
# background is the estimate's largest shared error (measured on the benchmarks' 100-feature
# classifier: with one background of 64 rows for every ordering, as the package does, the 95%
# intervals held the mean over 20 seeds in 32% of them), so the standard errors come from the
# spread of the chunks' means (batch means), which carries it. A chunk is one progress step,
# one convergence test (from MIN_CHUNKS on) and one guard check.
CHUNK, MIN_CHUNKS = 64, 4
# The work sized ahead (``importance_tasks.methods._work``): at most about WORK_S_PER_PLAYER
# reference seconds of orderings per player, between WORK_S and MAX_WORK_S, and never fewer
# orderings than MIN_CHUNKS chunks. The convergence test takes the largest standard error over
# the players, so wider data needs more orderings.
WORK_S, WORK_S_PER_PLAYER, MAX_WORK_S = 8.0, 0.25, 100.0


Array = NDArray[np.float64]


class Sage(Seeded):
    """Global Shapley values of the model's loss, with their standard errors.

    SAGE's permutation estimator as the ``sage-importance`` package (by SAGE's authors)
    computes it with a marginal imputer over background rows: its draws of rows and orderings
    for the same seed and its loss functions, each ordering's coalitions evaluated as one walk
    (``importance_tasks.methods.walks``: through a first Dense layer's running sums where the
    model has one) instead of one imputer call per feature. Unlike the package, each chunk of
    ``CHUNK`` orderings draws its own background rows, and the standard errors are the spread
    of the chunks' means (see ``CHUNK``); one chunk (``n_permutations`` <= 64) is the
    package's estimate exactly. It stops when the largest standard error is below ``thresh``
    times the range of the values (the package's convergence test, a rule on the values), or
    after ``n_permutations`` orderings when that is set. Converging, it stops at the latest
    after the orderings that 0.25 reference seconds of evaluations per player buy (8 to 100 s;
    from the model's cost, counted from its layers, and the data's width: never a clock); not
    converged by then, the result is ``insufficient``. The loss is mean squared error for
    regression and cross entropy for classification (SAGE's own estimators take no other).

    Parameters
    ----------
    n_background : int, default=64
    max_samples : float or int, default=1.0
        Rows the orderings' rows are drawn from (all: a sample of them would be an error
        every ordering shares).
    thresh : float, default=0.05
        Convergence threshold.
    n_permutations : int, default=0
        A fixed number of sampled orderings instead of the convergence test (0 = converge).
    time_budget_s : float, default=0
        A guard, not a size: when passed, the method stops after the current chunk and its
        result is ``incomplete`` (0 = no guard).
    random_state, groups
        A group is one player of the game (its columns switched together).
    """

    name: ClassVar[str] = "sage"
    label: ClassVar[str] = "sage"
    unit: ClassVar[str] = "orderings"
    minimum: ClassVar[int] = CHUNK * MIN_CHUNKS
    uses_labels: ClassVar[bool] = True

    n_background: int = option(64, help="background rows of each chunk", schema=integer())
    max_samples: float | int = rows_option(1.0, help="rows the orderings' rows are drawn from")
    thresh: float = option(
        0.05,
        help="convergence: the largest standard error below this share of the values' range",
        schema={"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    )
    n_permutations: int = option(
        0,
        help="a fixed number of orderings instead of converging (0: converge)",
        schema=integer(0),
    )
    time_budget_s: float = time_guard()

    @staticmethod
    def typical_seconds(n_units: int) -> float:
        """Reference seconds of its most work for ``n_units`` players."""
        return float(np.clip(WORK_S_PER_PLAYER * n_units, WORK_S, MAX_WORK_S))

    def seconds(self, n_rows: int, n_features: int, rows_per_s: float) -> float:
        """Rough seconds of its work at ``rows_per_s`` (for packing): ``n_permutations``
        orderings' walks, or at most ``typical_seconds`` converging."""
        if not self.n_permutations:
            return self.typical_seconds(n_features)
        background = min(self.n_background, n_rows)
        return self.n_permutations * (n_features + 1) * background / rows_per_s

    def work(self, model: Model, n_rows: int, n_units: int) -> int:
        """The most orderings it samples: ``n_permutations``, or what the reference seconds
        sized for ``n_units`` players buy (at least MIN_CHUNKS chunks, in whole chunks)."""
        if self.n_permutations:
            return self.n_permutations
        background = min(self.n_background, n_rows)
        per_ordering = (n_units + 1) * background * state_cost(model)
        seconds = self.typical_seconds(n_units)
        chunks = int(multiply_adds_in(seconds) // (per_ordering * CHUNK))
        return max(self.minimum, CHUNK * chunks)

    def measure(self, run: Run) -> Importance:
        from sage import utils

        model, data, progress, start = run.model, run.data, run.progress, run.started
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=self.max_samples)
        rows, rng, X, y = sample.rows, sample.rng, sample.X, sample.y
        background = data.X[rng.choice(data.n_rows, min(self.n_background, data.n_rows), False)]
        output = model.predict(X)
        task = get_scorer(run.scoring, output=output, y=y).task
        classify = task == "classification"
        loss = utils.get_loss("cross entropy" if classify else "mse", reduction="none")
        target = y.astype(np.int64) if classify else y.astype(np.float64)
        if classify and target.ndim == 2:
            target = target[:, 0]
        player = np.empty(data.X.shape[1], dtype=np.intp)
        for unit, row in enumerate(rows):
            player[row.columns] = unit
        most = self.work(model, data.n_rows, len(rows))
        game = _Game(model, X, target, player, len(rows), loss, classify)
        backgrounds = _Backgrounds(data.X, len(background), rng, first=background)
        mean, std, low, high, done, converged = self._estimate(
            game, backgrounds, most, start, progress
        )
        if converged or self.n_permutations or done < most:  # done, or ended by the guard
            planned = done if converged else most
            status = guard_status(done, planned, "orderings", self.time_budget_s)
        else:
            status = (
                MethodStatus.INSUFFICIENT,
                f"not converged within the {most} orderings sized for this model and data "
                f"(largest standard error above {self.thresh:g} of the values' range); give "
                "n_permutations or a larger thresh",
            )
        return make_result(
            self.name,
            rows,
            mean=mean,
            std=std,
            ci_low=low,
            ci_high=high,
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
        self,
        game: _Game,
        backgrounds: _Backgrounds,
        most: int,
        start: float,
        progress: ProgressFn | None,
    ) -> tuple[Array, Array, Array, Array, int, bool]:
        """The estimator, chunk by chunk: values, standard errors, the 95% interval, the
        orderings sampled and whether they converged."""
        rng = np.random.default_rng(seed=self.seed)
        chunks: list[NDArray[np.float64]] = []  # each chunk's mean scores
        sizes: list[int] = []
        done, converged = 0, False
        mean = std = np.zeros(game.n_units)
        while done < most and not (done and passed(start, self.time_budget_s)):
            size = min(CHUNK, most - done)
            picked = rng.choice(len(game.X), size)
            orders = np.tile(np.arange(game.n_units), (size, 1))
            for order in orders:  # the package's draws: one in-place shuffle per ordering
                rng.shuffle(order)
            scores = game.scores(backgrounds.next(), picked, orders)
            chunks.append(scores.mean(axis=0))
            sizes.append(size)
            done += size
            mean, std = _batch_means(np.array(chunks), np.array(sizes, dtype=np.float64))
            if len(chunks) == 1:  # the package's standard error, within the one chunk
                std = np.sqrt(((scores - mean) ** 2).sum(axis=0)) / size
            ratio = float(np.max(std)) / max(float(np.ptp(mean)), 1e-12)
            if progress is not None:  # orderings still needed, by the package's own estimate
                needed = self.n_permutations or max(done, int(done * (ratio / self.thresh) ** 2))
                progress(done, min(needed, most))
            if not self.n_permutations and done >= self.minimum and ratio < self.thresh:
                converged = True
                break
        half = _t_quantile(len(chunks)) * std
        return mean, std, mean - half, mean + half, done, converged


def _batch_means(
    means: NDArray[np.float64], sizes: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The mean of chunks of orderings (each chunk's mean and size) and its standard error
    from the spread of the chunks' means: shape (players,) each (zeros for one chunk, whose
    spread cannot be measured: the caller uses the spread within it)."""
    weights = sizes / sizes.sum()
    mean = weights @ means
    if len(means) < 2:
        return mean, np.zeros_like(mean)
    variance = (weights**2) @ (means - mean) ** 2 * len(means) / (len(means) - 1)
    return mean, np.sqrt(variance)


def _t_quantile(chunks: int) -> float:
    """The 97.5% Student t quantile for an interval from ``chunks`` chunk means."""
    if chunks < 2:
        return Z_95
    from scipy.stats import t

    return float(t.ppf(0.975, df=chunks - 1))


@dataclass
class _Backgrounds:
    """Each chunk's background rows: ``first``, then fresh draws of as many rows of ``X``."""

    X: NDArray[np.float32]
    size: int
    rng: np.random.Generator
    first: NDArray[np.float32]
    drawn: int = 0

    def next(self) -> NDArray[np.float32]:
        self.drawn += 1
        if self.drawn == 1:
            return self.first
        return self.X[self.rng.choice(len(self.X), self.size, replace=False)]


@dataclass(frozen=True)
class _Game:
    """SAGE's cooperative game on the sampled rows: each ordering of the players (units) a
    walk from the background to the row, scored by the loss it removes at each step."""

    model: Model
    X: NDArray[np.float32]
    target: NDArray[Any]
    player: NDArray[np.intp]  # per column, the unit holding it
    n_units: int
    loss: Any
    classify: bool  # the loss is cross entropy over the model's class probabilities

    def scores(
        self, background: NDArray[np.float32], picked: NDArray[np.intp], orders: NDArray[np.intp]
    ) -> NDArray[np.float64]:
        """Per ordering, each unit's loss removed when it joins, with the absent units at
        ``background``'s values: shape (orderings, units)."""
        place = np.empty_like(orders)
        np.put_along_axis(place, orders, np.arange(self.n_units)[None], axis=1)
        position = place[:, self.player]
        walks = Walks(self.model, background)
        means = walks.means(self.X[picked], position, antithetic=False)  # (k, m + 1, out)
        if self.classify and means.shape[2] == 1:  # one sigmoid: both classes' probabilities
            means = np.concatenate([1 - means, means], axis=2)
        if means.shape[2] == 1:
            means = means[:, :, 0]
        k, states = means.shape[:2]
        flat = np.repeat(self.target[picked], states, axis=0)
        losses = self.loss(means.reshape(k * states, *means.shape[2:]), flat).reshape(k, states)
        scores = np.empty((k, self.n_units))
        np.put_along_axis(scores, orders, losses[:, :-1] - losses[:, 1:], axis=1)
        return scores
