"""Permutation importance: how much the loss grows when a feature's values are shuffled."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import EvalData
from importance_tasks.errors import InputError
from importance_tasks.methods._common import (
    DEFAULT_MAX_BATCH_BYTES,
    ProgressFn,
    RandomState,
    check_max_samples,
    check_positive_int,
    draw_sample,
    draw_seed,
    perturbed_outputs,
    settings_of,
    t_interval,
)
from importance_tasks.model import Model
from importance_tasks.result import Importance
from importance_tasks.scoring import get_scorer

__all__ = ["Permutation"]


class Permutation:
    """Permutation feature importance (Breiman 2001; Fisher, Rudin & Dominici 2019).

    The importance of a feature (or group) is the loss on the data with that feature's
    values shuffled across rows, minus the loss on the intact data, averaged over
    ``n_repeats`` shuffles. A group's columns are shuffled with one permutation, so their
    joint distribution is kept. Every repeat uses one permutation shared by all features
    (as scikit-learn does), which makes comparisons between features less noisy.

    Parameters
    ----------
    n_repeats : int, default=5
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the row sample and the permutations; the seed used is in the settings.
    max_samples : float in (0, 1] or int >= 2, default=1.0
        Fraction or number of rows to use, drawn once without replacement.
    groups : mapping of str to sequence of str, optional
        Columns reported together as one row, such as the columns of a one-hot encoding.
    permutations : ndarray of shape (n_repeats, n_rows_used), optional
        Explicit row permutations, one per repeat, to reproduce another tool's numbers.
    max_batch_bytes : int, default=256 MiB
        Memory budget for the stacked permuted copies fed to one forward call.

    References
    ----------
    L. Breiman, "Random Forests", Machine Learning 45(1), 2001. doi:10.1023/A:1010933404324
    """

    name: ClassVar[str] = "permutation"
    needs_data: ClassVar[bool] = True

    def __init__(
        self,
        *,
        n_repeats: int = 5,
        random_state: RandomState = None,
        max_samples: float | int = 1.0,
        groups: Mapping[str, Sequence[str]] | None = None,
        permutations: NDArray[np.integer] | None = None,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    ) -> None:
        self.n_repeats = check_positive_int("n_repeats", n_repeats)
        self.seed = draw_seed(random_state)
        self.max_samples = check_max_samples(max_samples)
        self.groups = dict(groups or {})
        self.max_batch_bytes = check_positive_int("max_batch_bytes", max_batch_bytes)
        if permutations is not None:
            permutations = np.asarray(permutations)
            if permutations.ndim != 2 or permutations.shape[0] != self.n_repeats:
                raise InputError(
                    f"permutations must have shape (n_repeats={self.n_repeats}, n_rows), "
                    f"got {permutations.shape}"
                )
        self.permutations = permutations

    def compute(
        self,
        model: Model,
        data: EvalData,
        *,
        scoring: str = "auto",
        progress: ProgressFn | None = None,
    ) -> Importance:
        """Permutation importance of every feature or group.

        Returns
        -------
        Importance
            ``repeats`` has shape (n_rows_of_result, n_repeats): loss increase per shuffle.
        """
        start = time.perf_counter()
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=self.max_samples)
        rows, rng, X, y, weight = sample.rows, sample.rng, sample.X, sample.y, sample.weight
        permutations = self._permutations(X.shape[0], rng)

        base_output = model.predict(X)
        scorer = get_scorer(scoring, output=base_output, y=y)
        base_loss = scorer.loss(y, base_output, weight)

        jobs = [
            (row.columns, _shuffled(X, row.columns, permutation))
            for row in rows
            for permutation in permutations
        ]
        increases = np.empty(len(jobs))
        for job, output in perturbed_outputs(
            model, X, jobs, max_batch_bytes=self.max_batch_bytes, progress=progress
        ):
            increases[job] = scorer.loss(y, output, weight) - base_loss
        repeats = increases.reshape(len(rows), self.n_repeats)
        mean = repeats.mean(axis=1)
        low, high = t_interval(mean, repeats)
        return Importance(
            method=self.name,
            features=tuple(r.label for r in rows),
            mean=mean,
            std=repeats.std(axis=1),
            ci_low=low,
            ci_high=high,
            repeats=repeats,
            groups={r.label: r.names for r in rows},
            settings=settings_of(
                n_repeats=self.n_repeats,
                seed=self.seed,
                max_samples=self.max_samples,
                n_rows=int(X.shape[0]),
                groups=self.groups,
                scoring=scorer.name,
                explicit_permutations=self.permutations is not None,
            ),
            seconds=time.perf_counter() - start,
        )

    def _permutations(self, n_rows: int, rng: np.random.Generator) -> NDArray[np.intp]:
        if self.permutations is None:
            return np.stack([rng.permutation(n_rows) for _ in range(self.n_repeats)])
        given = self.permutations
        if given.shape[1] != n_rows or not all(
            np.array_equal(np.sort(p), np.arange(n_rows)) for p in given
        ):
            raise InputError(
                f"each of the permutations must be a permutation of range({n_rows}), "
                "the rows in use"
            )
        return given.astype(np.intp)


def _shuffled(
    X: NDArray[np.float32], columns: NDArray[np.intp], permutation: NDArray[np.intp]
) -> Callable[[], NDArray[np.float32]]:
    return lambda: X[np.ix_(permutation, columns)]
