from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.data import EvalData
from importance_tasks.keras import KerasModel
from importance_tasks.methods import UnsupportedModelError, Weights
from importance_tasks.model import CallableModel
from tests.conftest import dense_model

NAMES = ("a", "b", "c")
DATA = EvalData(X=np.zeros((2, 3)), y=np.zeros(2), feature_names=NAMES)
W1 = np.array([[4.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
W2 = np.array([[0.0], [3.0]])  # hidden unit 0 (which carries input a) is ignored downstream


def _compute(kind, kernels=(W1, W2)):
    return Weights(kind=kind).compute(
        KerasModel(dense_model(list(kernels), activation="relu")), DATA
    )


def test_first_layer_is_the_naive_sum_and_is_fooled():
    result = _compute("first_layer")
    np.testing.assert_allclose(result.mean, [4.0, 2.0, 2.0])
    assert result.rank[0] == 1  # ranks input a first, although a cannot reach the output


def test_olden_is_the_product_of_all_kernels():
    result = _compute("olden")
    np.testing.assert_allclose(result.mean, np.abs(W1 @ W2).sum(axis=1))
    assert result.mean[0] == 0.0 and result.rank[2] == 1


def test_garson_matches_the_one_hidden_layer_formula():
    result = _compute("garson")
    shares = np.abs(W1) / np.abs(W1).sum(axis=0)
    contribution = (shares * np.abs(W2[:, 0])).sum(axis=1)
    np.testing.assert_allclose(result.mean, contribution / contribution.sum())
    assert result.mean.sum() == pytest.approx(1.0)


def test_zero_network_gets_zero_importance():
    for kind in ("olden", "garson", "first_layer"):
        result = _compute(kind, kernels=(np.zeros((3, 2)), np.zeros((2, 1))))
        np.testing.assert_array_equal(result.mean, 0.0)


def test_group_sums_its_columns():
    result = Weights(kind="first_layer", groups={"ab": ["a", "b"]}).compute(
        KerasModel(dense_model([W1, W2])), DATA
    )
    assert result.features == ("ab", "c")
    np.testing.assert_allclose(result.mean, [6.0, 2.0])


def test_non_dense_model_is_refused_clearly():
    import keras

    inputs = keras.Input(shape=(3,))
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(4)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    with pytest.raises(UnsupportedModelError, match=r"layer .* is a BatchNormalization"):
        Weights().compute(KerasModel(model), DATA)


def test_model_without_layers_is_refused():
    model = CallableModel(lambda X: X.sum(axis=1), n_features=3)
    with pytest.raises(UnsupportedModelError, match="needs a Keras model"):
        Weights().compute(model, DATA)


def test_kind_is_validated():
    with pytest.raises(ValueError, match="kind='lrp' is not allowed"):
        Weights(kind="lrp")


def test_normalization_and_rescaling_fold_into_the_first_layer():
    """(x - m) / s feeding W is x feeding W / s: the weights of a Normalization + Dense stack
    equal those of the Dense stack with the folded kernel."""
    import keras

    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(size=(3, 4)), rng.normal(size=(4, 1))
    variance = np.array([4.0, 9.0, 0.25])
    norm = keras.layers.Normalization(mean=[1.0, -2.0, 0.5], variance=variance.tolist())
    stacked = keras.Sequential(
        [keras.Input(shape=(3,)), norm, keras.layers.Rescaling(2.0), keras.layers.Dense(4),
         keras.layers.Dense(1)]
    )  # fmt: skip
    stacked.layers[-2].set_weights([w1.astype(np.float32), np.zeros(4, np.float32)])
    stacked.layers[-1].set_weights([w2.astype(np.float32), np.zeros(1, np.float32)])
    folded = dense_model([w1 * 2.0 / np.sqrt(variance)[:, None], w2])
    data = EvalData(X=rng.normal(size=(5, 3)), y=np.zeros(5), feature_names=("a", "b", "c"))
    for kind in ("olden", "garson", "first_layer"):
        ours = Weights(kind=kind).compute(KerasModel(stacked), data)
        reference = Weights(kind=kind).compute(KerasModel(folded), data)
        np.testing.assert_allclose(ours.mean, reference.mean, rtol=1e-5)
    assert not np.allclose(
        Weights().compute(KerasModel(stacked), data).mean,
        Weights().compute(KerasModel(dense_model([w1, w2])), data).mean,
        rtol=1e-3,
    )


def test_normalization_after_a_dense_layer_is_not_folded():
    import keras

    model = keras.Sequential(
        [keras.Input(shape=(2,)), keras.layers.Dense(3), keras.layers.Normalization(mean=0.0,
         variance=1.0), keras.layers.Dense(1)]
    )  # fmt: skip
    data = EvalData(X=np.ones((3, 2)), y=np.zeros(3), feature_names=("a", "b"))
    with pytest.raises(UnsupportedModelError, match="after the first Dense layer"):
        Weights().compute(KerasModel(model), data)
