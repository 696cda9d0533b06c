"""A team's own importance method, shipped as a package of its own: the output's mean change when
one column is set to its mean (the test installs it under the ``importance_tasks.methods``
entry-point group)."""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np

from importance_tasks import Importance
from importance_tasks.methods.base import ImportanceMethod, Run, integer, option


class MeanShift(ImportanceMethod):
    """Mean |f(x) - f(x with column j at its mean)| over the first ``n_rows`` rows."""

    name: ClassVar[str] = "mean_shift"
    label: ClassVar[str] = "shift"
    unit: ClassVar[str] = "columns"

    n_rows: int = option(200, help="rows the shift is averaged over", schema=integer(2))

    def seconds(self, n_rows: int, n_features: int, rows_per_s: float) -> float:
        return min(n_rows, self.n_rows) * (n_features + 1) / rows_per_s

    def measure(self, run: Run) -> Importance:
        X = run.data.X[: self.n_rows]
        base = run.model.predict(X)
        shifts = []
        for j in range(X.shape[1]):
            copy = X.copy()
            copy[:, j] = X[:, j].mean()
            shifts.append(float(np.abs(run.model.predict(copy) - base).mean()))
            if run.progress is not None:
                run.progress(j + 1, X.shape[1])
        mean = np.array(shifts)
        names = tuple(run.data.feature_names)
        return Importance(
            method=self.name, features=names, mean=mean, std=np.zeros_like(mean),
            ci_low=mean.copy(), ci_high=mean.copy(), repeats=None,
            groups={n: (n,) for n in names}, settings={"n_rows": len(X)},
            seconds=time.perf_counter() - run.started, diagnostics={},
        )  # fmt: skip
