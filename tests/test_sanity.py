from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from importance_tasks.methods import Permutation
from importance_tasks.result import Importance
from importance_tasks.sanity import randomized_copy, sanity_check


class ColumnSpread:
    """A deliberately broken method: ranks columns by their spread, ignoring the model."""

    name: ClassVar[str] = "column_spread"
    needs_data: ClassVar[bool] = True

    def compute(self, model, data, *, scoring="auto", progress=None) -> Importance:
        mean = data.X.std(axis=0).astype(np.float64)
        return Importance(
            method=self.name,
            features=data.feature_names,
            mean=mean,
            std=np.zeros_like(mean),
            ci_low=mean,
            ci_high=mean,
            repeats=None,
            groups={f: (f,) for f in data.feature_names},
            settings={},
            seconds=0.0,
        )


def _spread_data(friedman):
    from importance_tasks.data import EvalData

    data = friedman.data
    return EvalData(X=data.X * np.linspace(1, 2, 10), y=data.y, feature_names=data.feature_names)


def test_randomized_copy_changes_every_weight(friedman):
    copy = randomized_copy(friedman.model, seed=0)
    for old, new in zip(
        friedman.model.keras_model.get_weights(), copy.keras_model.get_weights(), strict=True
    ):
        assert old.shape == new.shape and not np.allclose(old, new)


def test_broken_method_is_flagged(friedman):
    broken = ColumnSpread()
    data = _spread_data(friedman)
    checked = sanity_check(broken, friedman.model, data, broken.compute(friedman.model, data))
    assert checked.diagnostics["sanity"]["passed"] is False
    assert checked.diagnostics["sanity"]["spearman"] == pytest.approx(1.0)


def test_permutation_passes(friedman):
    method = Permutation(n_repeats=3, random_state=0)
    result = method.compute(friedman.model, friedman.data)
    checked = sanity_check(method, friedman.model, friedman.data, result, seed=1)
    assert checked.diagnostics["sanity"]["passed"] is True
    np.testing.assert_array_equal(checked.mean, result.mean)
