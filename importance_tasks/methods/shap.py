"""SHAP values (shap's permutation estimator, or its exact explainer for a few features),
aggregated to a global ranking."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import EvalData
from importance_tasks.methods._common import (
    ProgressFn,
    RandomState,
    attribution_result,
    check_budget,
    check_choice,
    check_max_samples,
    check_positive_int,
    draw_sample,
    draw_seed,
    output_selection,
    settings_of,
)
from importance_tasks.methods.permutation_shap import PermutationShap
from importance_tasks.model import Model
from importance_tasks.result import Importance

__all__ = ["Shap"]

Algorithm = Literal["auto", "permutation", "exact"]
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)
EXACT_MAX_FEATURES = 8


DEFAULT_BUDGET_S = 10.0
FIRST_CHUNK_ROWS = 1  # timed to size the next chunks (one row of 500 features: about 4 s)
CHUNK_SECONDS = 2.0  # a chunk is one progress step and one budget check


class Shap:
    """Mean |SHAP value| per feature (Lundberg & Lee 2017), with spread over rows.

    The values of shap's ``Permutation`` explainer with an ``Independent`` masker over a
    background sample of the data (``importance_tasks.methods.permutation_shap``: the same
    values for the same seed, with a row's orderings stacked into few model calls), or shap's
    ``Exact`` explainer for at most 8 features with
    ``algorithm="auto"``, on a seeded sample of rows. For a classifier, the SHAP values of
    each row's true class are used; for several regression outputs, their sum.

    Parameters
    ----------
    algorithm : {"auto", "permutation", "exact"}, default="auto"
    n_background : int, default=100
        Background rows that absent features are drawn from.
    max_samples : float or int, default=200
        Rows explained.
    max_evals : int, default=0
        Model evaluations per row for the permutation explainer; 0 = ``2 * n_features + 1``
        times 10 (ten permutations, shap's own default scale).
    time_budget_s : float, default=10
        Seconds the explaining may take (0 = no limit). Rows are explained in chunks, in the
        seeded sample's order, by one explainer (the same draws as one call); when the next
        chunk would pass the budget, fewer rows are explained than ``max_samples``, and
        ``settings["stopped_by"]`` is ``"time_budget"``. The interval (over rows) says how
        precise the mean is. At least one chunk always runs.
    random_state, groups
        A group's SHAP value is the sum of its columns' values (SHAP is additive).
    """

    name: ClassVar[str] = "shap"
    needs_data: ClassVar[bool] = True
    uses_labels: ClassVar[bool] = False

    def __init__(
        self,
        *,
        algorithm: Algorithm = "auto",
        n_background: int = 100,
        max_samples: float | int = 200,
        max_evals: int = 0,
        time_budget_s: float = DEFAULT_BUDGET_S,
        random_state: RandomState = None,
        groups: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.algorithm = check_choice("algorithm", algorithm, ALGORITHMS)
        self.n_background = check_positive_int("n_background", n_background)
        self.max_samples = check_max_samples(max_samples)
        self.max_evals = check_positive_int("max_evals", max_evals, minimum=0)
        self.time_budget_s = check_budget(time_budget_s)
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
        start = time.perf_counter()
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=self.max_samples)
        X, y, rng = sample.X, sample.y, sample.rng
        background = data.X[rng.choice(data.n_rows, min(self.n_background, data.n_rows), False)]
        n_features = X.shape[1]
        algorithm = self.algorithm
        if algorithm == "auto":
            algorithm = "exact" if n_features <= EXACT_MAX_FEATURES else "permutation"
        max_evals = self.max_evals or 10 * (2 * n_features + 1)
        explain: Callable[[NDArray[np.float32]], NDArray[np.float64]]
        if algorithm == "exact":
            explain = _exact_explainer(model, background)
        else:
            explain = PermutationShap(model, background, max_evals, self.seed).explain
        parts, stopped, done, chunk = [], "max_samples", 0, FIRST_CHUNK_ROWS
        began = time.perf_counter()
        while done < len(X):
            if done:  # rows per chunk: about CHUNK_SECONDS each, and what the budget leaves
                now = time.perf_counter()
                per_row = max(now - began, 1e-9) / done
                chunk = max(1, int(CHUNK_SECONDS / per_row))
                if self.time_budget_s:
                    chunk = min(chunk, int((self.time_budget_s - (now - start)) / per_row))
                    if chunk < 1:
                        stopped = "time_budget"
                        break
            rows = X[done : done + chunk]
            parts.append(explain(rows))
            done += len(rows)
            if progress is not None:
                progress(done, len(X))
        values = np.concatenate(parts)
        if values.ndim == 2:
            values = values[:, :, None]
        select = output_selection(model.predict(X[:done]), y[:done])
        per_row = np.einsum("nfk,nk->nf", values, select)
        return attribution_result(
            self.name,
            sample.rows,
            per_row,
            started=start,
            select=select,
            settings=settings_of(
                algorithm=algorithm,
                n_background=len(background),
                max_evals=max_evals if algorithm == "permutation" else None,
                time_budget_s=self.time_budget_s or None,
                stopped_by=stopped,
                seed=self.seed,
                n_rows=done,
                groups=self.groups,
            ),
        )


def _exact_explainer(
    model: Model, background: NDArray[np.float32]
) -> Callable[[NDArray[np.float32]], NDArray[np.float64]]:
    """shap's ``Exact`` explainer over an ``Independent`` masker (a few features only)."""
    import shap

    def predict(batch: NDArray[Any]) -> NDArray[np.float64]:
        out = model.predict(np.asarray(batch, dtype=np.float32))
        return out[:, 0] if out.shape[1] == 1 else out

    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.explainers.Exact(predict, masker)
    return lambda rows: np.asarray(explainer(rows, silent=True).values, dtype=np.float64)
