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
    attribution_result,
    check_max_samples,
    check_positive_int,
    draw_sample,
    draw_seed,
    output_selection,
    settings_of,
)
from importance_tasks.model import Model
from importance_tasks.result import Importance

__all__ = ["Lime"]


class Lime:
    """Mean |LIME weight| per feature over a seeded sample of rows.

    lime's ``LimeTabularExplainer`` fits a weighted linear surrogate around each explained row
    from ``num_samples`` perturbed copies, on standardised features (no discretisation, so a
    weight is the local effect of one standard deviation). The perturbed copies of a row go
    through the batched forward in one call. The explainer is seeded, so the same seed gives
    identical numbers, equal to lime's own defaults. For a classifier, each row's true class
    is explained.

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
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=self.max_samples)
        X = sample.X.astype(np.float64)
        select = output_selection(model.predict(sample.X), sample.y)
        classify = select.shape[1] > 1 and bool(np.all(select.sum(axis=1) == 1))
        explainer = LimeTabularExplainer(
            data.X.astype(np.float64),
            mode="classification" if classify else "regression",
            feature_names=list(data.feature_names),
            discretize_continuous=False,
            # Every feature is explained, so lime's default selection ("auto") would keep them
            # all after extra Ridge fits (or, up to 6 features, a forward selection): "none"
            # gives the same weights for less work (tested against lime's default).
            feature_selection="none",
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
        return attribution_result(
            self.name,
            sample.rows,
            np.abs(weights),  # a group's weight: the sum of its columns' |weights|
            started=start,
            select=select,
            settings=settings_of(
                num_samples=self.num_samples,
                seed=self.seed,
                n_rows=len(X),
                mode="classification" if classify else "regression",
                groups=self.groups,
            ),
        )
