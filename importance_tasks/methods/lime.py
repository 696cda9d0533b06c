"""LIME local surrogates (Ribeiro, Singh & Guestrin 2016), aggregated to a global ranking."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import EvalData
from importance_tasks.methods._common import (
    attribution_result,
    draw_sample,
    output_selection,
    sample_size,
    settings_of,
)
from importance_tasks.methods._work import guard_status, passed, time_guard
from importance_tasks.methods.base import Run, Seeded, integer, option, rows_option
from importance_tasks.model import aligned_empty
from importance_tasks.result import Importance

__all__ = ["Lime"]


# Rows whose perturbed copies go through one forward call: about one model batch, and at most
# 32 MiB of float64 draws (wide data), of which two blocks are alive at once.
BLOCK_SAMPLES = 32_768
BLOCK_BYTES = 32 * 2**20


class Lime(Seeded):
    """Mean |LIME weight| per feature over a seeded sample of rows.

    LIME (lime's ``LimeTabularExplainer`` with ``discretize_continuous=False`` and
    ``sample_around_instance=True``) fits a weighted linear surrogate around each explained row:
    ``num_samples`` copies drawn from a normal around the row with the data's standard
    deviations (the row itself first), weighted
    by an exponential kernel of their standardised distance to the row (width
    0.75 * sqrt(n_features)), fitted by Ridge (alpha 1, with intercept) on standardised
    features, so a weight is the local effect of one standard deviation.

    Computed here rather than by calling lime per row, for speed: the same draws from the same
    seeded ``RandomState`` stream, the same kernel and the same weighted Ridge solution, with
    the copies of several rows in one forward call, the distances and the Ridge normal
    equations in numpy, and the next rows' draws made on a second thread. A test shows the
    weights equal lime's own (default settings, every feature explained); benchmarks/run.py
    times both. For a classifier, each row's true class is explained.

    Copies are drawn around the row, not around the data's mean (lime's own default): around
    the mean, every row's surrogate is one fit over the same global cloud, weighted towards the
    row, and misses an effect whose slope changes sign; around the row it is the row's local
    slope. On 100-feature classifiers with 10 informative features (``make_classification``,
    four seeds) the mean's surrogates put 7-9 of the 10 in their top 10, the row's 10.

    Parameters
    ----------
    num_samples : int, default=1000
        Perturbed copies per explained row (lime's default is 5000).
    max_samples : float or int, default=100
        Rows explained.
    time_budget_s : float, default=0
        A guard, not a size: rows are explained in blocks, in the seeded sample's order; when
        the blocks so far took longer, the method stops and its result is ``incomplete`` (0 =
        no guard).
    sample_around_instance : bool, default=True
        False draws the copies around the data's mean, as lime does by default.
    random_state, groups
        A group's weight is the sum of its columns' |weights|.
    """

    name: ClassVar[str] = "lime"
    label: ClassVar[str] = "lime"
    unit: ClassVar[str] = "rows"

    num_samples: int = option(
        1000,
        help="perturbed copies per explained row (lime's own default: 5000)",
        schema=integer(10),
    )
    max_samples: float | int = rows_option(100, help="rows explained")
    time_budget_s: float = time_guard()
    sample_around_instance: bool = option(
        True,
        help="draw the copies around the row (false: around the data's mean, lime's default)",
        schema={"type": "boolean"},
    )

    def seconds(self, n_rows: int, n_features: int, rows_per_s: float) -> float:
        """Rough seconds of its work at ``rows_per_s`` model rows per second (for packing)."""
        return sample_size(n_rows, self.max_samples) * self.num_samples / rows_per_s

    @staticmethod
    def typical_seconds(n_features: int) -> float:
        """Seconds of its default work on the benchmark machine: 0.3 s at 100 features, 2 s
        at 500."""
        return max(0.3, n_features / 250)

    def measure(self, run: Run) -> Importance:
        from threadpoolctl import threadpool_limits

        model, data, progress, start = run.model, run.data, run.progress, run.started
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=self.max_samples)
        X = sample.X.astype(np.float64)
        n_rows, n_columns = X.shape
        select = output_selection(model.predict(sample.X), sample.y)
        classify = select.shape[1] > 1 and bool(np.all(select.sum(axis=1) == 1))
        # lime's scaler (StandardScaler): fitted on the whole data, used for sampling and for
        # standardising; computed a block of rows at a time, since scikit-learn's fit on a
        # float32 table of 1M x 100 holds a float64 copy of it (800 MB).
        mean, scale = column_mean_and_scale(data.X)
        categorical = Categorical.of(data, mean, scale)
        kernel_width = np.sqrt(n_columns) * 0.75
        draws = np.random.RandomState(self.seed)  # lime's legacy stream, for equal draws
        block = max(
            1,
            min(
                BLOCK_SAMPLES // self.num_samples,
                BLOCK_BYTES // (8 * self.num_samples * n_columns),
            ),
        )

        def draw(rows: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            if not categorical.columns.size:
                size = rows * self.num_samples * n_columns
                noise = draws.normal(0, 1, size).reshape(rows, self.num_samples, n_columns)
                return noise, np.empty((rows, self.num_samples, 0))
            return categorical.draw(draws, rows, self.num_samples, n_columns)

        weights = np.zeros(X.shape)
        done = 0
        # The next rows' draws run on a second thread (numpy draws without holding the GIL);
        # one BLAS thread for the fits leaves it a core (measured: 12 -> 8 ms per wide row).
        with (
            ThreadPoolExecutor(max_workers=1) as pool,
            threadpool_limits(limits=1, user_api="blas"),
        ):
            pending = pool.submit(draw, min(block, n_rows))
            for first in range(0, n_rows, block):
                if first and passed(start, self.time_budget_s):  # at least one block
                    break
                rows = X[first : first + block]
                noise, chosen = pending.result()
                if first + block < n_rows:
                    pending = pool.submit(draw, min(block, n_rows - first - block))
                # lime's copies are noise * scale + centre, standardised back to the noise plus
                # a constant (the Ridge intercept takes it): use the noise as the standardised
                # copies, the row itself first.
                centre = rows[:, None, :] if self.sample_around_instance else mean
                noise[:, 0] = 0.0 if self.sample_around_instance else (rows - mean) / scale
                copies = aligned_empty(noise.shape)
                np.add(noise * scale, centre, out=copies, casting="unsafe")
                categorical.place(rows, chosen, noise, copies)
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
                done = first + len(rows)
                if progress is not None:
                    progress(done, n_rows)
        return attribution_result(
            self.name,
            sample.rows,
            np.abs(weights[:done]),  # a group's weight: the sum of its columns' |weights|
            started=start,
            select=select[:done],
            status=guard_status(done, n_rows, "rows", self.time_budget_s),
            settings=settings_of(
                num_samples=self.num_samples,
                sample_around_instance=self.sample_around_instance,
                time_budget_s=self.time_budget_s or None,
                seed=self.seed,
                n_rows=done,
                mode="classification" if classify else "regression",
                groups=self.groups,
            ),
        )


@dataclass(frozen=True)
class Categorical:
    """lime's sampling of categorical columns (coded columns, see ``importance_tasks.columns``).

    Each copy takes a value drawn by the column's frequency in the data; the surrogate sees 1
    where the copy's value is the explained row's, else 0 (lime's scaler leaves these columns
    unscaled). Draws follow lime's order per row: the normal noise of every column, then one
    ``choice`` per categorical column.
    """

    columns: NDArray[np.intp]
    values: tuple[NDArray[np.float64], ...]
    frequencies: tuple[NDArray[np.float64], ...]

    @classmethod
    def of(
        cls, data: EvalData, mean: NDArray[np.float64], scale: NDArray[np.float64]
    ) -> Categorical:
        """The data's coded columns; sets their ``mean`` to 0 and ``scale`` to 1 (lime's)."""
        columns = np.flatnonzero(data.coded)
        values, frequencies = [], []
        for j in columns:
            counts = np.bincount(data.X[:, j].astype(np.intp))
            seen = np.flatnonzero(counts)
            values.append(seen.astype(np.float64))
            frequencies.append(counts[seen] / float(counts.sum()))
        mean[columns], scale[columns] = 0.0, 1.0
        return cls(columns, tuple(values), tuple(frequencies))

    def draw(
        self, draws: np.random.RandomState, rows: int, samples: int, n_columns: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Normal noise for every column and the drawn values of the categorical ones."""
        noise = np.empty((rows, samples, n_columns))
        chosen = np.empty((rows, samples, len(self.columns)))
        for row in range(rows):
            noise[row] = draws.normal(0, 1, samples * n_columns).reshape(samples, n_columns)
            for k, (values, p) in enumerate(zip(self.values, self.frequencies, strict=True)):
                chosen[row, :, k] = draws.choice(values, size=samples, replace=True, p=p)
        return noise, chosen

    def place(
        self,
        rows: NDArray[np.float64],
        chosen: NDArray[np.float64],
        noise: NDArray[np.float64],
        copies: NDArray[np.float32],
    ) -> None:
        """Put the drawn values into the copies and their indicators into the noise (in place);
        each row's first copy is the row itself."""
        if not self.columns.size:
            return
        chosen[:, 0] = rows[:, self.columns]
        copies[:, :, self.columns] = chosen
        noise[:, :, self.columns] = chosen == rows[:, None, self.columns]


def column_mean_and_scale(
    X: NDArray[np.float32], *, block_rows: int = 65_536
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``StandardScaler().fit(X)``'s ``mean_`` and ``scale_`` (population standard deviation,
    1 where it is 0), in float64 from two passes over blocks of rows."""
    n_rows, n_columns = X.shape
    starts = range(0, n_rows, block_rows)
    total = np.zeros(n_columns)
    for i in starts:
        total += X[i : i + block_rows].sum(axis=0, dtype=np.float64)
    mean = total / n_rows
    squares = np.zeros(n_columns)
    for i in starts:
        squares += ((X[i : i + block_rows] - mean) ** 2).sum(axis=0)
    scale = np.sqrt(squares / n_rows)
    scale[scale < 10 * np.finfo(np.float64).eps] = 1.0  # scikit-learn's _handle_zeros_in_scale
    return mean, scale


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
