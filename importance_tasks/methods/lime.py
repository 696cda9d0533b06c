"""LIME local surrogates (Ribeiro, Singh & Guestrin 2016), aggregated to a global ranking."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import EvalData
from importance_tasks.methods._common import (
    ProgressFn,
    RandomState,
    check_max_samples,
    check_positive_int,
    draw_seed,
    output_selection,
    resolve_groups,
    sample_rows,
    settings_of,
)
from importance_tasks.model import Model
from importance_tasks.result import Importance

__all__ = ["Lime"]

_Z_95 = 1.959963984540054


class Lime:
    """Mean |LIME weight| per feature over a seeded sample of rows.

    lime's ``LimeTabularExplainer`` fits a weighted linear surrogate around each explained row
    from ``num_samples`` perturbed copies, on standardised features (no discretisation, so a
    weight is the local effect of one standard deviation). The perturbed copies of a row go
    through the batched forward in one call. The explainer is seeded, so the same seed gives
    identical numbers. For a classifier, each row's true class is explained.

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
        from lime.lime_tabular import LimeTabularExplainer

        start = time.perf_counter()
        rows = resolve_groups(data.feature_names, self.groups)
        rng = np.random.default_rng(self.seed)
        picked = sample_rows(data.n_rows, self.max_samples, rng)
        X = (data.X if picked is None else data.X[picked]).astype(np.float64)
        y = data.y if picked is None else data.y[picked]
        select = output_selection(model.predict(X.astype(np.float32)), y)
        classify = select.shape[1] > 1 and bool(np.all(select.sum(axis=1) == 1))
        explainer = LimeTabularExplainer(
            data.X.astype(np.float64),
            mode="classification" if classify else "regression",
            feature_names=list(data.feature_names),
            discretize_continuous=False,
            random_state=self.seed,
        )

        def predict(batch: NDArray[Any]) -> NDArray[np.float64]:
            out = model.predict(np.asarray(batch, dtype=np.float32))
            return out if classify else out.sum(axis=1)

        weights = np.zeros(X.shape)
        for i, row in enumerate(X):
            label = int(np.argmax(select[i])) if classify else 1
            explanation = explainer.explain_instance(
                row,
                predict,
                labels=(label,),
                num_features=X.shape[1],
                num_samples=self.num_samples,
            )
            local = explanation.as_map()
            for column, weight in local[label if classify else next(iter(local))]:
                weights[i, column] = weight
            if progress is not None:
                progress(i + 1, len(X))
        magnitude = np.column_stack([np.abs(weights[:, r.columns]).sum(axis=1) for r in rows])
        mean = magnitude.mean(axis=0)
        spread = magnitude.std(axis=0, ddof=1) if len(X) > 1 else np.zeros_like(mean)
        half = _Z_95 * spread / np.sqrt(len(X))
        return Importance(
            method=self.name,
            features=tuple(r.label for r in rows),
            mean=mean,
            std=spread,
            ci_low=mean - half,
            ci_high=mean + half,
            repeats=None,
            groups={r.label: r.names for r in rows},
            settings=settings_of(
                num_samples=self.num_samples,
                seed=self.seed,
                n_rows=len(X),
                mode="classification" if classify else "regression",
                groups=self.groups,
            ),
            seconds=time.perf_counter() - start,
        )
