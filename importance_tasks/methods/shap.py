"""SHAP values (shap's permutation estimator, or exact over every coalition for a few features),
aggregated to a global ranking."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from importance_tasks.contract import MethodStatus
from importance_tasks.methods._common import (
    attribution_result,
    draw_sample,
    output_selection,
    sample_size,
    settings_of,
)
from importance_tasks.methods._work import (
    evaluation_cost,
    guard_status,
    multiply_adds_in,
    passed,
    state_cost,
    time_guard,
)
from importance_tasks.methods.base import Run, Seeded, choice, integer, option, rows_option
from importance_tasks.methods.exact_shap import ExactShap
from importance_tasks.methods.permutation_shap import PermutationShap
from importance_tasks.model import Model
from importance_tasks.result import Importance

__all__ = ["Shap"]

Algorithm = Literal["auto", "permutation", "exact"]
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)
EXACT_MAX_FEATURES = 8


# The work sized ahead (``importance_tasks.methods._work``): about this many reference seconds
# of model evaluations; as many orderings per row (up to MAX_ORDERINGS, shap's scale of ten) as
# leave TARGET_ROWS rows, then as many rows as fit (up to MAX_ROWS).
WORK_S = 6.0
MAX_ORDERINGS, TARGET_ROWS, MAX_ROWS = 10, 64, 200
# Fewer rows than this and the mean |SHAP value| is not worth ranking by: its interval (over
# rows) is then wider than a fifth of itself for a feature whose values vary as much as their
# mean (1.96 / sqrt(32) = 0.35; at 64 rows 0.25).
MIN_ROWS = 32
CHUNK_ROWS = 8  # rows per progress step and guard check


class Shap(Seeded):
    """Mean |SHAP value| per feature (Lundberg & Lee 2017), with spread over rows.

    The values of shap's ``Permutation`` explainer with an ``Independent`` masker over a
    background sample of the data (``importance_tasks.methods.permutation_shap``: the same
    values for the same seed, with a row's orderings stacked into few model calls), or of
    shap's ``Exact`` explainer for at most 8 features with ``algorithm="auto"``
    (``importance_tasks.methods.exact_shap``: every coalition, without shap's compile in each
    process), on a seeded sample of rows. For a classifier, the SHAP values of
    each row's true class are used; for several regression outputs, their sum.

    The work is decided before the first row, from what an evaluation of the model costs
    (counted from its layers) and the data's width, never from a clock: about ``WORK_S``
    reference seconds (``importance_tasks.methods._work``), spent on up to ten orderings per
    row for at least 64 rows, then on as many rows as fit (at most 200). Fewer than
    ``MIN_ROWS`` rows make the result ``insufficient``.

    Parameters
    ----------
    algorithm : {"auto", "permutation", "exact"}, default="auto"
    n_background : int, default=100
        Background rows that absent features are drawn from.
    max_samples : float or int or None, default=None
        Rows explained; None sizes them from the model's cost (see above).
    max_evals : int, default=0
        Model evaluations per row for the permutation explainer (``max_evals // (2 *
        n_features + 1)`` orderings); 0 sizes the orderings from the model's cost.
    time_budget_s : float, default=0
        A guard, not a size: when the rows explained so far took longer, the method stops
        and its result is ``incomplete`` (0 = no guard).
    random_state, groups
        A group's SHAP value is the sum of its columns' values (SHAP is additive).
    """

    name: ClassVar[str] = "shap"
    label: ClassVar[str] = "shap"
    unit: ClassVar[str] = "rows"
    minimum: ClassVar[int] = MIN_ROWS

    algorithm: Algorithm = choice(
        "auto",
        ALGORITHMS,
        help="auto (exact for at most 8 features, else permutation), permutation or exact",
    )
    n_background: int = option(
        100, help="background rows that absent features are drawn from", schema=integer()
    )
    max_samples: float | int | None = rows_option(
        None, help="rows explained (empty: sized from the model's cost)"
    )
    max_evals: int = option(
        0,
        help="model evaluations per row of the permutation explainer (0: sized from the "
        "model's cost)",
        schema=integer(0),
    )
    time_budget_s: float = time_guard()

    @staticmethod
    def typical_seconds(n_features: int) -> float:
        """Reference seconds of the work it sizes (the same for any width)."""
        return WORK_S

    def seconds(self, n_rows: int, n_features: int, rows_per_s: float) -> float:
        """Rough seconds of its work (for packing): sized to ``typical_seconds``."""
        return self.typical_seconds(n_features)

    def work(self, model: Model, n_rows: int, n_features: int) -> tuple[str, int, int]:
        """The algorithm, rows explained and model evaluations per row (orderings times
        ``2 * n_features + 1``, or the exact explainer's coalitions), decided from the
        model's cost and the data's size alone."""
        algorithm = self.algorithm
        if algorithm == "auto":
            algorithm = "exact" if n_features <= EXACT_MAX_FEATURES else "permutation"
        background = min(self.n_background, n_rows)
        budget = multiply_adds_in(WORK_S)
        if algorithm == "exact":
            per_row = 2**n_features
            cost = per_row * background * evaluation_cost(model)
        else:
            walk = 2 * n_features + 1
            per_ordering = walk * background * state_cost(model)
            orderings = (
                max(1, self.max_evals // walk)
                if self.max_evals
                else int(np.clip(budget // (TARGET_ROWS * per_ordering), 1, MAX_ORDERINGS))
            )
            per_row = self.max_evals or orderings * walk
            cost = orderings * per_ordering
        if self.max_samples is not None:
            rows = sample_size(n_rows, self.max_samples)
        else:
            rows = int(np.clip(budget // cost, 2, min(MAX_ROWS, n_rows)))
        return algorithm, rows, per_row

    def measure(self, run: Run) -> Importance:
        model, data, progress, start = run.model, run.data, run.progress, run.started
        algorithm, n_rows, max_evals = self.work(model, data.n_rows, data.X.shape[1])
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=n_rows)
        X, y, rng = sample.X, sample.y, sample.rng
        background = data.X[rng.choice(data.n_rows, min(self.n_background, data.n_rows), False)]
        explain: Callable[[NDArray[np.float32]], NDArray[np.float64]]
        if algorithm == "exact":
            explain = ExactShap(model, background).explain
        else:
            explain = PermutationShap(model, background, max_evals, self.seed).explain
        parts, done = [], 0
        while done < len(X) and not (done and passed(start, self.time_budget_s)):
            rows = X[done : done + CHUNK_ROWS]
            parts.append(explain(rows))
            done += len(rows)
            if progress is not None:
                progress(done, len(X))
        values = np.concatenate(parts)
        if values.ndim == 2:
            values = values[:, :, None]
        select = output_selection(model.predict(X[:done]), y[:done])
        per_row = np.einsum("nfk,nk->nf", values, select)
        status = guard_status(done, len(X), "rows", self.time_budget_s)
        if status[0] == MethodStatus.COMPLETE and done < min(self.minimum, data.n_rows):
            status = (
                MethodStatus.INSUFFICIENT,
                f"{done} rows explained, fewer than the {self.minimum} a mean over rows needs; "
                "give max_samples (and max_evals) to explain more",
            )
        return attribution_result(
            self.name,
            sample.rows,
            per_row,
            started=start,
            select=select,
            status=status,
            settings=settings_of(
                algorithm=algorithm,
                n_background=len(background),
                max_evals=max_evals if algorithm == "permutation" else None,
                time_budget_s=self.time_budget_s or None,
                seed=self.seed,
                n_rows=done,
                groups=self.groups,
            ),
        )
