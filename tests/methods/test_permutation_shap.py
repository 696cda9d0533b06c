"""Our permutation SHAP estimator against shap's own ``Permutation`` explainer."""

from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.keras import KerasModel
from importance_tasks.methods import walks
from importance_tasks.methods.permutation_shap import PermutationShap
from tests.methods import softmax_mlp
from tests.precision import assert_within, output_atol


@pytest.fixture(scope="module")
def softmax_model():
    return softmax_mlp(n_rows=300, n_features=12, seed=0)


@pytest.mark.parametrize("orderings", [1, 4])
def test_equal_to_shaps_permutation_explainer_for_the_same_seed(softmax_model, orderings):
    import shap

    keras_model, X = softmax_model
    full = KerasModel(keras_model, rank_one_updates=False)
    background, rows = X[:40], X[100:106]
    rows[0, 3] = background[0, 3] = background[1:, 3] = 7.0  # one column that does not vary
    max_evals = orderings * (2 * 12 + 1) - 1 if orderings > 1 else 25
    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.explainers.Permutation(full.predict, masker, seed=5)
    theirs = np.asarray(explainer(rows, max_evals=max_evals, silent=True).values)
    ours = PermutationShap(full, background, max_evals, seed=5).explain(rows)
    assert ours.shape == theirs.shape == (6, 12, 3)
    # The same model calls in other batches: two outputs per value, within their rounding.
    assert_within(ours, theirs, output_atol(full, rows))
    assert np.all(ours[0, 3] == 0.0)  # x equals every background row there


def test_blocks_of_orderings_give_the_same_values(softmax_model, monkeypatch):
    keras_model, X = softmax_model
    model = KerasModel(keras_model)
    background, rows = X[:30], X[200:204]
    expected = PermutationShap(model, background, 10 * 25, seed=1).explain(rows)
    monkeypatch.setattr(walks, "BLOCK_BYTES", 1)  # one ordering per model call
    blocked = PermutationShap(model, background, 10 * 25, seed=1).explain(rows)
    assert_within(blocked, expected, output_atol(model, rows))


@pytest.mark.parametrize("antithetic", (True, False))
def test_walks_through_the_first_dense_layer_equal_the_full_forward(softmax_model, antithetic):
    """The running sums of kernel rows give the states' mean outputs of whole forward passes,
    for columns and for groups of unequal sizes (one walk at a time), within float32 rounding
    of the outputs (a state's sum is taken in another order)."""
    keras_model, X = softmax_model
    fast = KerasModel(keras_model, rank_one_updates=True)
    full = KerasModel(keras_model, rank_one_updates=False)
    assert walks.Walks(fast, X[:20]).first is not None and walks.Walks(full, X[:20]).first is None
    rng = np.random.default_rng(0)
    n = X.shape[1]
    columns = np.stack([rng.permutation(n) for _ in range(3)])
    groups = np.array([0, 0, 0, *range(1, n - 2)])  # one group of three columns
    units = np.stack([rng.permutation(n - 2)[groups] for _ in range(3)])
    for position in (columns, units):
        xs = X[100:103]
        a = walks.Walks(fast, X[:20]).means(xs, position, antithetic=antithetic)
        b = walks.Walks(full, X[:20]).means(xs, position, antithetic=antithetic)
        m = position.max() + 1
        assert a.shape == b.shape == (3, 2 * m + 1 if antithetic else m + 1, 3)
        assert_within(a, b, output_atol(full, X[:20]))
        assert_within(a[:, 0], full.predict(X[:20]).mean(axis=0)[None], output_atol(full, X[:20]))


def test_efficiency_values_sum_to_the_output_minus_the_background_mean(softmax_model):
    keras_model, X = softmax_model
    model = KerasModel(keras_model)
    background, rows = X[:50], X[150:155]
    values = PermutationShap(model, background, 3 * 25, seed=0).explain(rows)
    gap = model.predict(rows) - model.predict(background).mean(axis=0)
    np.testing.assert_allclose(values.sum(axis=1), gap, atol=1e-5)
