"""Permutation importance: how much the loss grows when a feature's values are shuffled."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from importance_tasks.errors import InputError
from importance_tasks.methods._common import (
    FeatureRow,
    Sample,
    cluster_rows,
    draw_sample,
    perturbed_outputs,
    sample_size,
    t_interval,
)
from importance_tasks.methods.base import Run, integer, option
from importance_tasks.methods.shards import (
    Sharded,
    ShardPart,
    ShardRows,
    check_mean_loss,
    combine_losses,
    row_weight,
    shard_rows_of,
)
from importance_tasks.result import Importance
from importance_tasks.scoring import get_scorer

__all__ = ["STEP_REPEATS", "Permutation"]

# A sequence model's importance per step takes at most this many shuffles (``per_step``).
STEP_REPEATS = 2


def _as_array(permutations: Any) -> NDArray[np.integer] | None:
    return None if permutations is None else np.asarray(permutations)


class Permutation(Sharded):
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
    cluster_groups : mapping of str to sequence of str, optional
        Clusters of dependent columns whose importance as one group is computed beside the
        rows (in the same batched pass, with the same permutations): a cluster's columns are
        shuffled together, which keeps their dependence. Reported in
        ``diagnostics["cluster_importance"]``.
    permutations : ndarray of shape (n_repeats, n_rows_used), optional
        Explicit row permutations, one per repeat, to reproduce another tool's numbers.
    max_batch_bytes : int, default=16 MiB
        Memory budget for the stacked permuted copies fed to one forward call.
    shard_rows : int, default=250,000
        Rows per shard (see ``importance_tasks.methods.shards``): with more rows than this,
        each shard's rows are shuffled among themselves, and shards can run as separate tasks
        (``compute_shard`` / ``combine``) with the same result as ``compute``.

    References
    ----------
    L. Breiman, "Random Forests", Machine Learning 45(1), 2001. doi:10.1023/A:1010933404324
    """

    name: ClassVar[str] = "permutation"
    label: ClassVar[str] = "perm"
    unit: ClassVar[str] = "copies"
    uses_labels: ClassVar[bool] = True
    per_step: ClassVar[bool] = True

    n_repeats: int = option(5, help="shuffles of each feature", schema=integer())
    permutations: NDArray[np.integer] | None = option(
        None, help="explicit row permutations, one per repeat", check=_as_array
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        given = self.permutations
        if given is not None and (given.ndim != 2 or given.shape[0] != self.n_repeats):
            raise InputError(
                f"permutations must have shape (n_repeats={self.n_repeats}, n_rows), "
                f"got {given.shape}"
            )

    def for_step_profile(self, n_rows: int) -> Permutation:
        """Fewer rows and repeats: ``n_rows`` windows, at most ``STEP_REPEATS`` shuffles."""
        return dataclasses.replace(
            self, groups={}, cluster_groups={}, max_samples=n_rows,
            n_repeats=min(self.n_repeats, STEP_REPEATS),
        )  # fmt: skip

    def seconds(self, n_rows: int, n_features: int, rows_per_s: float) -> float:
        """Rough seconds of its work at ``rows_per_s`` model rows per second (for packing):
        each feature's copies of the rows, every repeat, and the rows themselves once."""
        rows = sample_size(n_rows, self.max_samples)
        return rows * (n_features * self.n_repeats + 1) / rows_per_s

    def measure_shard(self, run: Run, shard: int) -> ShardPart:
        """The losses of one shard of rows, intact and with each feature shuffled."""
        model, data, progress = run.model, run.data, run.progress
        scoring, start = run.scoring, run.started
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=self.max_samples)
        clusters = self._cluster_rows(data.feature_names)
        sample = dataclasses.replace(sample, rows=sample.rows + clusters)
        part = shard_rows_of(sample, shard=shard, shard_rows=self.shard_rows, seed=self.seed)
        X, y, weight, n_shards = part.X, part.y, part.weight, part.n_shards
        if n_shards > 1 and self.permutations is not None:
            raise InputError(
                f"explicit permutations need one shard; raise shard_rows above {len(sample.X)}"
            )
        row_permutations, extra = self._row_permutations(sample, part, shard, data.coded)

        base_output = model.predict(X)
        scorer = get_scorer(scoring, output=base_output, y=y)
        check_mean_loss(scorer, n_shards)
        jobs = [
            (row.columns, _shuffled(X, row.columns, permutation))
            for row, permutations in zip(sample.rows, row_permutations, strict=True)
            for permutation in permutations
        ]
        shuffled = np.empty(len(jobs))
        for job, output in perturbed_outputs(
            model, X, jobs, max_batch_bytes=self.max_batch_bytes, progress=progress
        ):
            shuffled[job] = scorer.loss(y, output, weight)
        total = row_weight(weight, len(X))
        losses = {
            "base": np.array([scorer.loss(y, base_output, weight)]),
            "shuffled": shuffled.reshape(len(sample.rows), self.n_repeats),
        }
        return ShardPart(
            method=self.name,
            shard=shard,
            n_shards=n_shards,
            losses=losses,
            weights={k: np.full(v.shape, total) for k, v in losses.items()},
            meta={
                "features": [r.label for r in sample.rows],
                "groups": {r.label: list(r.names) for r in sample.rows},
                "scoring": scorer.name,
                "n_rows": int(sample.X.shape[0]),
                "seconds": time.perf_counter() - start,
                "cluster_rows": len(clusters),
                **extra,
            },
        )

    def combine(self, parts: Sequence[ShardPart]) -> Importance:
        """The importance over all rows from the parts of every shard."""
        losses = combine_losses(parts)
        meta = parts[0].meta
        repeats = losses["shuffled"] - losses["base"][0]
        diagnostics = {k: meta[k] for k in ("partners", "clusters") if k in meta}
        mean = repeats.mean(axis=1)
        low, high = t_interval(mean, repeats)
        return self._combined(
            parts,
            (mean, repeats.std(axis=1), low, high, repeats),
            settings={
                "n_repeats": self.n_repeats,
                "explicit_permutations": self.permutations is not None,
                **self._settings(),
            },
            diagnostics=diagnostics,
        )

    def _row_permutations(
        self, sample: Sample, part: ShardRows, shard: int, coded: NDArray[np.bool_]
    ) -> tuple[list[NDArray[np.intp]], dict[str, Any]]:
        """Each result row's permutations (n_repeats, n_rows), and what to add to the shard's
        meta: one set of permutations shared by every feature (as scikit-learn does)."""
        permutations = self._permutations(len(part.X), part.rng)
        return [permutations] * len(sample.rows), {}

    def _cluster_rows(self, feature_names: Sequence[str]) -> list[FeatureRow]:
        """Rows computed beside the features: each cluster shuffled as one group."""
        return cluster_rows(feature_names, self.cluster_groups)

    def _settings(self) -> dict[str, Any]:
        """Settings a variant adds to the result's."""
        return {}

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
