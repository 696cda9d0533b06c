"""Probing one feature at a time: occlusion on real rows, and the literal one-hot probe."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import EvalData
from importance_tasks.methods._common import (
    DEFAULT_MAX_BATCH_BYTES,
    FeatureRow,
    ProgressFn,
    RandomState,
    check_choice,
    check_max_samples,
    check_positive_int,
    draw_sample,
    draw_seed,
    perturbed_outputs,
    settings_of,
)
from importance_tasks.model import Model
from importance_tasks.result import Importance
from importance_tasks.scoring import Scorer, get_scorer

__all__ = ["Probe"]

BASELINES = ("mean", "median", "zero")
MODES = ("occlusion", "onehot")


class Probe:
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
        Value a probed feature is set to (per column, from the evaluation rows).
    n_bootstrap : int, default=50
        Row resamples for the spread of occlusion importance.
    random_state : int, numpy.random.Generator or None, default=None
    max_samples : float in (0, 1] or int >= 2, default=1.0
    groups : mapping of str to sequence of str, optional
        Columns occluded together and reported as one row.
    max_batch_bytes : int, default=256 MiB
    """

    name: ClassVar[str] = "probe"
    needs_data: ClassVar[bool] = True

    def __init__(
        self,
        *,
        mode: str = "occlusion",
        baseline: str = "mean",
        n_bootstrap: int = 50,
        random_state: RandomState = None,
        max_samples: float | int = 1.0,
        groups: Mapping[str, Sequence[str]] | None = None,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    ) -> None:
        self.mode = check_choice("mode", mode, MODES)
        self.baseline = check_choice("baseline", baseline, BASELINES)
        self.n_bootstrap = check_positive_int("n_bootstrap", n_bootstrap)
        self.seed = draw_seed(random_state)
        self.max_samples = check_max_samples(max_samples)
        self.groups = dict(groups or {})
        self.max_batch_bytes = check_positive_int("max_batch_bytes", max_batch_bytes)

    def compute(
        self,
        model: Model,
        data: EvalData,
        *,
        scoring: str = "auto",
        progress: ProgressFn | None = None,
    ) -> Importance:
        """Occlusion (or one-hot probe) importance of every feature or group."""
        start = time.perf_counter()
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=self.max_samples)
        rows, rng, X, y, weight = sample.rows, sample.rng, sample.X, sample.y, sample.weight
        baseline = _baseline_values(X, self.baseline)

        if self.mode == "onehot":
            mean = self._onehot(model, baseline, rows)
            repeats = None
            std = np.zeros_like(mean)
            low, high = mean.copy(), mean.copy()
            scorer_name = None
        else:
            base_output = model.predict(X)
            scorer = get_scorer(scoring, output=base_output, y=y)
            resamples = rng.integers(0, X.shape[0], size=(self.n_bootstrap, X.shape[0]))
            mean, repeats = self._occlusion(
                model, X, y, weight, baseline, rows, scorer, base_output, resamples, progress
            )
            std = repeats.std(axis=1, ddof=1) if self.n_bootstrap > 1 else np.zeros_like(mean)
            low, high = np.percentile(repeats, [2.5, 97.5], axis=1)
            scorer_name = scorer.name
        return Importance(
            method=self.name,
            features=tuple(r.label for r in rows),
            mean=mean,
            std=std,
            ci_low=low,
            ci_high=high,
            repeats=repeats,
            groups={r.label: r.names for r in rows},
            settings=settings_of(
                mode=self.mode,
                baseline=self.baseline,
                n_bootstrap=self.n_bootstrap,
                seed=self.seed,
                max_samples=self.max_samples,
                n_rows=int(X.shape[0]),
                groups=self.groups,
                scoring=scorer_name,
            ),
            seconds=time.perf_counter() - start,
        )

    def _occlusion(
        self,
        model: Model,
        X: NDArray[np.float32],
        y: NDArray[np.generic],
        weight: NDArray[np.float64] | None,
        baseline: NDArray[np.float32],
        rows: list[FeatureRow],
        scorer: Scorer,
        base_output: NDArray[np.float64],
        resamples: NDArray[np.intp],
        progress: ProgressFn | None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        def loss(idx: NDArray[np.intp] | slice, output: NDArray[np.float64]) -> float:
            return scorer.loss(y[idx], output[idx], None if weight is None else weight[idx])

        base_boot = np.array([loss(idx, base_output) for idx in resamples])
        jobs = [(row.columns, _constant(baseline[row.columns])) for row in rows]
        mean = np.empty(len(rows))
        repeats = np.empty((len(rows), len(resamples)))
        for job, output in perturbed_outputs(
            model, X, jobs, max_batch_bytes=self.max_batch_bytes, progress=progress
        ):
            mean[job] = loss(slice(None), output) - loss(slice(None), base_output)
            repeats[job] = [loss(idx, output) for idx in resamples] - base_boot
        return mean, repeats

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


def _baseline_values(X: NDArray[np.float32], baseline: str) -> NDArray[np.float32]:
    if baseline == "mean":
        return X.mean(axis=0, dtype=np.float64).astype(np.float32)
    if baseline == "median":
        return np.median(X, axis=0).astype(np.float32)
    return np.zeros(X.shape[1], dtype=np.float32)
