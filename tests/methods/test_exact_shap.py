"""Our exact SHAP values against shap's own ``Exact`` explainer, and Shapley's properties."""

from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.keras import KerasModel
from importance_tasks.methods.exact_shap import ExactShap
from tests.methods import softmax_mlp
from tests.precision import assert_within, output_atol


@pytest.fixture(scope="module")
def softmax_model():
    keras_model, X = softmax_mlp(n_rows=200, n_features=6, seed=1)
    return KerasModel(keras_model), X


def test_equal_to_shaps_exact_explainer(softmax_model):
    import shap

    model, X = softmax_model
    background, rows = X[:30].copy(), X[100:105].copy()
    rows[0, 2] = background[:, 2] = 7.0  # one column that does not vary for row 0
    masker = shap.maskers.Independent(background, max_samples=len(background))
    theirs = np.asarray(shap.explainers.Exact(model.predict, masker)(rows, silent=True).values)
    ours = ExactShap(model, background).explain(rows)
    assert ours.shape == theirs.shape == (5, 6, 3)
    # The same outputs in other batches: two outputs per value, within their rounding.
    atol = output_atol(model, rows)
    assert_within(ours, theirs, atol)
    assert_within(ours[0, 2], np.zeros(3), atol)  # x equals every background row there


def test_an_additive_model_gets_each_term_minus_its_background_mean():
    """For y = sum_i w_i x_i, feature i's SHAP value is w_i (x_i - mean of the background's
    x_i), exactly what every coalition order gives; a feature with zero weight gets 0."""
    from tests.conftest import dense_model

    w = np.array([2.0, -1.0, 0.5, 0.0])
    model = KerasModel(dense_model([w[:, None]]))
    rng = np.random.default_rng(0)
    background = rng.normal(size=(20, 4)).astype(np.float32)
    rows = rng.normal(size=(3, 4)).astype(np.float32)
    values = ExactShap(model, background).explain(rows)[:, :, 0]
    expected = w * (rows - background.astype(np.float64).mean(axis=0))
    assert_within(values, expected, output_atol(model, np.vstack([rows, background]), terms=4))


def test_efficiency_values_sum_to_the_output_minus_the_background_mean(softmax_model):
    model, X = softmax_model
    background, rows = X[:40], X[150:154]
    values = ExactShap(model, background).explain(rows)
    gap = model.predict(rows) - model.predict(background).mean(axis=0)
    np.testing.assert_allclose(values.sum(axis=1), gap, atol=1e-5)


def test_rows_one_per_model_call_give_the_same_values(softmax_model, monkeypatch):
    from importance_tasks.methods import exact_shap

    model, X = softmax_model
    background, rows = X[:25], X[160:164]
    together = ExactShap(model, background).explain(rows)
    monkeypatch.setattr(exact_shap, "BLOCK_BYTES", 1)
    apart = ExactShap(model, background).explain(rows)
    assert apart.shape == together.shape == (4, 6, 3)
    assert_within(apart, together, output_atol(model, rows))
