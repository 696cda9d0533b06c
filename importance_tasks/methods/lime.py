"""LIME local surrogates (Ribeiro, Singh & Guestrin 2016), aggregated to a global ranking."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import EvalData
from importance_tasks.methods._common import (
    ProgressFn,
    RandomState,
    attribution_result,
    check_max_samples,
    check_positive_int,
    draw_sample,
    draw_seed,
    output_selection,
    settings_of,
)
from importance_tasks.model import Model, aligned_empty
from importance_tasks.result import Importance

__all__ = ["Lime"]


# Rows whose perturbed copies go through one forward call: about one model batch, and at most
# 32 MiB of float64 draws (wide data), of which two blocks are alive at once.
BLOCK_SAMPLES = 32_768
BLOCK_BYTES = 32 * 2**20


class Lime:
    """Mean |LIME weight| per feature over a seeded sample of rows.

    LIME (lime's ``LimeTabularExplainer`` with ``discretize_continuous=False``) fits a weighted
    linear surrogate around each explained row: ``num_samples`` copies drawn from a normal
    around the data's mean with the data's standard deviations (the row itself first), weighted
    by an exponential kernel of their standardised distance to the row (width
    0.75 * sqrt(n_features)), fitted by Ridge (alpha 1, with intercept) on standardised
    features, so a weight is the local effect of one standard deviation.

    Computed here rather than by calling lime per row, for speed: the same draws from the same
    seeded ``RandomState`` stream, the same kernel and the same weighted Ridge solution, with
    the copies of several rows in one forward call, the distances and the Ridge normal
    equations in numpy, and the next rows' draws made on a second thread. A test shows the
    weights equal lime's own (default settings, every feature explained); benchmarks/run.py
    times both. For a classifier, each row's true class is explained.

    Parameters
    ----------
    num_samples : int, default=1000
        Perturbed copies per explained row (lime's default is 5000).
    max_samples : float or int, default=100
        Rows explained.
    random_state, groups
        A group's weight is the sum of its columns' |weights|.
    """

    name: ClassVar[str] = "lime"
    needs_data: ClassVar[bool] = True

    def __init__(
        self,
        *,
        num_samples: int = 1000,
        max_samples: float | int = 100,
        random_state: RandomState = None,
        groups: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.num_samples = check_positive_int("num_samples", num_samples, minimum=10)
        self.max_samples = check_max_samples(max_samples)
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
        from sklearn.preprocessing import StandardScaler
        from threadpoolctl import threadpool_limits

        start = time.perf_counter()
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=self.max_samples)
        X = sample.X.astype(np.float64)
        n_rows, n_columns = X.shape
        select = output_selection(model.predict(sample.X), sample.y)
        classify = select.shape[1] > 1 and bool(np.all(select.sum(axis=1) == 1))
        # lime's scaler: fitted on the whole data, used for sampling and for standardising.
        scaler = StandardScaler(with_mean=False).fit(data.X)  # float64 sums, no float64 copy
        mean, scale = scaler.mean_, scaler.scale_
        kernel_width = np.sqrt(n_columns) * 0.75
        draws = np.random.RandomState(self.seed)  # lime's legacy stream, for equal draws
        block = max(
            1,
            min(
                BLOCK_SAMPLES // self.num_samples,
                BLOCK_BYTES // (8 * self.num_samples * n_columns),
            ),
        )

        def draw(rows: int) -> NDArray[np.float64]:
            size = rows * self.num_samples * n_columns
            return draws.normal(0, 1, size).reshape(rows, self.num_samples, n_columns)

        weights = np.zeros(X.shape)
        # The next rows' draws run on a second thread (numpy draws without holding the GIL);
        # one BLAS thread for the fits leaves it a core (measured: 12 -> 8 ms per wide row).
        with (
            ThreadPoolExecutor(max_workers=1) as pool,
            threadpool_limits(limits=1, user_api="blas"),
        ):
            pending = pool.submit(draw, min(block, n_rows))
            for first in range(0, n_rows, block):
                rows = X[first : first + block]
                noise = pending.result()
                if first + block < n_rows:
                    pending = pool.submit(draw, min(block, n_rows - first - block))
                # lime's copies are noise * scale + mean, standardised back to the noise: use
                # the noise as the standardised copies, the row itself first.
                noise[:, 0] = (rows - mean) / scale
                copies = aligned_empty(noise.shape)
                np.add(noise * scale, mean, out=copies, casting="unsafe")
                outputs = model.predict(copies.reshape(-1, n_columns))
                outputs = outputs.reshape(len(rows), self.num_samples, -1)
                for j in range(len(rows)):
                    i = first + j
                    target = (
                        outputs[j][:, int(np.argmax(select[i]))]
                        if classify
                        else outputs[j].sum(axis=1)
                    )
                    z = noise[j]
                    squared = np.einsum("ij,ij->i", z, z) - 2 * (z @ z[0]) + z[0] @ z[0]
                    kernel = np.sqrt(np.exp(-np.maximum(squared, 0.0) / kernel_width**2))
                    weights[i] = weighted_ridge(z, target, kernel)
                if progress is not None:
                    progress(first + len(rows), n_rows)
        return attribution_result(
            self.name,
            sample.rows,
            np.abs(weights),  # a group's weight: the sum of its columns' |weights|
            started=start,
            select=select,
            settings=settings_of(
                num_samples=self.num_samples,
                seed=self.seed,
                n_rows=n_rows,
                mode="classification" if classify else "regression",
                groups=self.groups,
            ),
        )


def weighted_ridge(
    X: NDArray[np.float64], y: NDArray[np.float64], sample_weight: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Coefficients of ``sklearn.linear_model.Ridge(alpha=1).fit(X, y, sample_weight)``.

    scikit-learn's cholesky solution (normal equations of the data centred on its weighted
    means, rows scaled by the root of their weights), with the centring folded into the Gram
    matrix (sum w (x - m)(x - m)' = X'WX - sum(w) m m') so that X is read three times, and
    without scikit-learn's per-call input validation, which costs more than the arithmetic
    for thousands of small fits. Tested equal to scikit-learn's.
    """
    from scipy.linalg import solve

    total = sample_weight.sum()
    sums = X.T @ np.column_stack([sample_weight, sample_weight * y])
    x_mean, y_mean = sums[:, 0] / total, float(sample_weight @ y) / total
    rooted = X * np.sqrt(sample_weight)[:, None]
    gram = rooted.T @ rooted - total * np.outer(x_mean, x_mean)
    gram.flat[:: X.shape[1] + 1] += 1.0
    moment = sums[:, 1] - total * y_mean * x_mean  # X'W(y - y_mean) with X centred
    return np.asarray(solve(gram, moment, assume_a="pos", overwrite_a=True))
