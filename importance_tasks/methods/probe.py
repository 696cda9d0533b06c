"""Probing one feature at a time: occlusion on real rows, and the literal one-hot probe."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from importance_tasks.errors import UnsupportedModelError
from importance_tasks.methods._common import (
    FeatureRow,
    cluster_rows,
    draw_sample,
    perturbed_outputs,
    sample_size,
)
from importance_tasks.methods.base import Run, choice, integer, option
from importance_tasks.methods.shards import (
    Sharded,
    ShardPart,
    check_mean_loss,
    combine_losses,
    row_weight,
    shard_rows_of,
)
from importance_tasks.model import Model
from importance_tasks.result import Importance
from importance_tasks.scoring import get_scorer

__all__ = ["Probe"]

Baseline = Literal["mean", "median", "zero"]
BASELINES: tuple[str, ...] = get_args(Baseline)
Mode = Literal["occlusion", "onehot"]
MODES: tuple[str, ...] = get_args(Mode)


class Probe(Sharded):
    """Set one feature (or group) to a baseline and measure what changes.

    ``mode="occlusion"`` (default, Zeiler & Fergus 2014 applied to tabular data): on the
    real evaluation rows, replace the feature's values by its baseline value and report the
    loss increase. The spread comes from ``n_bootstrap`` resamples of the rows (no extra model
    calls). This is the sound form of "hold the others, change one": every other input keeps
    its real, jointly distributed values.

    ``mode="onehot"`` is the literal probe people write by hand: every input at its
    baseline, one input set to 1, and the absolute change of the output summed over outputs.
    It is kept for comparison only. It evaluates the model at a single point that is
    usually far from any real row (off-distribution), ignores interactions, and depends on
    the scale of each input; do not rank features by it.

    Parameters
    ----------
    mode : {"occlusion", "onehot"}, default="occlusion"
    baseline : {"mean", "median", "zero"}, default="mean"
        Value a probed feature is set to (per column, from the evaluation rows). A column of
        strings or categories is set to its most frequent value whatever the baseline: a
        category has no mean, and code 0 is not a neutral value.
    n_bootstrap : int, default=50
        Row resamples for the spread of occlusion importance.
    random_state : int, numpy.random.Generator or None, default=None
    max_samples : float in (0, 1] or int >= 2, default=1.0
    groups : mapping of str to sequence of str, optional
        Columns occluded together and reported as one row.
    cluster_groups : mapping of str to sequence of str, optional
        Clusters of dependent columns also occluded as one group each, in the same pass
        (occlusion only); reported in ``diagnostics["cluster_importance"]``.
    max_batch_bytes : int, default=16 MiB
    shard_rows : int, default=250,000
        Rows per shard for occlusion (see ``importance_tasks.methods.shards``): with more rows,
        the bootstrap resamples within each shard, and shards can run as separate tasks
        (``compute_shard`` / ``combine``) with the same result as ``compute``. The baseline
        values always come from all rows.
    """

    name: ClassVar[str] = "probe"
    label: ClassVar[str] = "probe"
    unit: ClassVar[str] = "copies"
    uses_labels: ClassVar[bool] = True
    per_step: ClassVar[bool] = True

    mode: Mode = choice(
        "occlusion",
        MODES,
        help="occlusion (real rows) or onehot (the literal probe, for comparison only)",
    )
    baseline: Baseline = choice(
        "mean",
        BASELINES,
        help="the value a probed feature is set to, per column",
    )
    n_bootstrap: int = option(
        50, help="row resamples for the spread of occlusion importance", schema=integer()
    )

    def n_shards(self, n_rows: int) -> int:
        return 1 if self.mode == "onehot" else super().n_shards(n_rows)

    def for_step_profile(self, n_rows: int) -> Probe:
        """``n_rows`` windows, each cell a feature."""
        return dataclasses.replace(self, groups={}, cluster_groups={}, max_samples=n_rows)

    def seconds(self, n_rows: int, n_features: int, rows_per_s: float) -> float:
        """Rough seconds of its work at ``rows_per_s`` model rows per second (for packing):
        one copy of the rows per feature, and the rows themselves."""
        return sample_size(n_rows, self.max_samples) * (n_features + 1) / rows_per_s

    def measure_shard(self, run: Run, shard: int) -> ShardPart:
        """One shard's losses: intact, each feature occluded, and per bootstrap resample."""
        model, data, progress = run.model, run.data, run.progress
        scoring, start = run.scoring, run.started
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=self.max_samples)
        clusters = (
            [] if self.mode == "onehot" else cluster_rows(data.feature_names, self.cluster_groups)
        )
        rows = sample.rows + clusters
        baseline = _baseline_values(sample.X, self.baseline, data.coded)
        meta: dict[str, Any] = {
            "features": [r.label for r in rows],
            "groups": {r.label: list(r.names) for r in rows},
            "n_rows": int(sample.X.shape[0]),
            "cluster_rows": len(clusters),
        }
        if self.mode == "onehot":
            if data.categories:
                raise UnsupportedModelError(
                    f"probe mode 'onehot' sets inputs to 1, which columns of strings "
                    f"{sorted(data.categories)} cannot take; use mode 'occlusion'"
                )
            mean = self._onehot(model, baseline, rows)
            return ShardPart(
                self.name, 0, 1, {"onehot": mean}, {"onehot": np.ones_like(mean)},
                {**meta, "scoring": None, "seconds": time.perf_counter() - start},
            )  # fmt: skip
        part = shard_rows_of(sample, shard=shard, shard_rows=self.shard_rows, seed=self.seed)
        X, y, weight, n_shards = part.X, part.y, part.weight, part.n_shards
        base_output = model.predict(X)
        scorer = get_scorer(scoring, output=base_output, y=y)
        check_mean_loss(scorer, n_shards)
        resamples = part.rng.integers(0, len(X), size=(self.n_bootstrap, len(X)))
        boot_weights = [None if weight is None else weight[idx] for idx in resamples]

        def losses_of(output: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            if not scorer.mean_over_rows:
                boot = [
                    scorer.loss(y[idx], output[idx], None if weight is None else weight[idx])
                    for idx in resamples
                ]
                return scorer.loss(y, output, weight), np.array(boot)
            # A mean of per-row losses: each resample's loss is the mean of a gather of them,
            # fifty times cheaper than scoring each resample again.
            rows = scorer.row_losses(y, output)
            boot = [
                np.average(rows[idx], weights=w)
                for idx, w in zip(resamples, boot_weights, strict=True)
            ]
            return float(np.average(rows, weights=weight)), np.array(boot)

        base, base_boot = losses_of(base_output)
        occluded = np.empty(len(rows))
        occluded_boot = np.empty((len(rows), self.n_bootstrap))
        jobs = [(row.columns, _constant(baseline[row.columns])) for row in rows]
        for job, output in perturbed_outputs(
            model, X, jobs, max_batch_bytes=self.max_batch_bytes, progress=progress
        ):
            occluded[job], occluded_boot[job] = losses_of(output)
        total = row_weight(weight, len(X))
        boot_total = np.array(
            [row_weight(None if weight is None else weight[idx], len(X)) for idx in resamples]
        )
        losses = {
            "base": np.array([base]),
            "occluded": occluded,
            "base_boot": base_boot,
            "occluded_boot": occluded_boot,
        }
        weights = {
            "base": np.array([total]),
            "occluded": np.full(len(rows), total),
            "base_boot": boot_total,
            "occluded_boot": np.tile(boot_total, (len(rows), 1)),
        }
        meta.update(scoring=scorer.name, seconds=time.perf_counter() - start)
        return ShardPart(self.name, shard, n_shards, losses, weights, meta)

    def combine(self, parts: Sequence[ShardPart]) -> Importance:
        """The importance over all rows from the parts of every shard."""
        losses = combine_losses(parts)
        repeats: NDArray[np.float64] | None
        if self.mode == "onehot":
            mean, repeats = losses["onehot"], None
            std = np.zeros_like(mean)
            low, high = mean.copy(), mean.copy()
        else:
            mean = losses["occluded"] - losses["base"][0]
            repeats = losses["occluded_boot"] - losses["base_boot"]
            std = repeats.std(axis=1, ddof=1) if self.n_bootstrap > 1 else np.zeros_like(mean)
            low, high = np.percentile(repeats, [2.5, 97.5], axis=1)
        return self._combined(
            parts,
            (mean, std, low, high, repeats),
            settings={
                "mode": self.mode,
                "baseline": self.baseline,
                "n_bootstrap": self.n_bootstrap,
            },
            diagnostics={},
        )

    @staticmethod
    def _onehot(
        model: Model, baseline: NDArray[np.float32], rows: list[FeatureRow]
    ) -> NDArray[np.float64]:
        probes = np.tile(baseline, (len(rows) + 1, 1))
        for i, row in enumerate(rows, start=1):
            probes[i, row.columns] = 1.0
        outputs = model.predict(probes)
        return np.abs(outputs[1:] - outputs[0]).sum(axis=1)


def _constant(values: NDArray[np.float32]) -> Callable[[], NDArray[np.float32]]:
    return lambda: values


def _baseline_values(
    X: NDArray[np.float32], baseline: str, coded: NDArray[np.bool_]
) -> NDArray[np.float32]:
    if baseline == "mean":
        values = X.mean(axis=0, dtype=np.float64).astype(np.float32)
    elif baseline == "median":
        values = np.median(X, axis=0).astype(np.float32)
    else:
        values = np.zeros(X.shape[1], dtype=np.float32)
    for j in np.flatnonzero(coded):  # the most frequent code (the lowest among ties)
        values[j] = np.bincount(X[:, j].astype(np.intp)).argmax()
    return values
