"""Copies through the first Dense layer by low-rank updates equal the full forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.data import EvalData
from importance_tasks.keras import KerasModel
from importance_tasks.methods import Permutation, Probe
from tests.precision import F32_EPS, assert_within, importance_atol, output_atol


def _problem(kind: str = "normalization", n_rows: int = 3000):
    """A Keras MLP whose inputs have large offsets (a year, a price) before per-column
    preprocessing, and a target that depends on three of its six columns."""
    import keras

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_rows, 6)) * np.array([3.0, 1.0, 50.0, 2.0, 1.0, 0.5])
    X += np.array([2000.0, 0.0, 1e4, -5.0, 0.0, 0.0])
    z = (X - X.mean(axis=0)) / X.std(axis=0)
    y = 2 * z[:, 0] + z[:, 1] ** 2 - z[:, 2] + 0.1 * rng.normal(size=n_rows)
    inputs = keras.Input((6,))
    if kind == "normalization":
        scaled = keras.layers.Normalization()
        scaled.adapt(X.astype(np.float32))
        h = scaled(inputs)
    elif kind == "rescaling":
        h = keras.layers.Rescaling(scale=1.0 / X.std(axis=0), offset=-X.mean(axis=0) / X.std(0))(
            inputs
        )
    else:
        h = inputs
    h = keras.layers.Dense(24, activation="relu")(h)
    h = keras.layers.Dense(8, activation="tanh")(h)
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    if kind != "plain":
        model.fit(X, y, epochs=15, batch_size=128, verbose=0)
    names = tuple(f"c{i}" for i in range(6))
    return model, EvalData(X=X, y=y, feature_names=names)


def _rounding_atol(model, first, rows: np.ndarray, copy: np.ndarray, kind: str) -> float:  # type: ignore[no-untyped-def]
    """Float32 rounding inside the network that a few ulps of the outputs do not cover. The
    first Dense layer's pre-activations are sums of terms far larger than the sums when a column
    is near 1e4 (``plain``); the low-rank update sums them in one order (NumPy, for the rows,
    then the copy's change) and the forward pass in another (the backend): each sum within
    (inputs) ulps of its terms' magnitudes. Rescaling computes ``x * scale + offset``, which a
    backend that fuses the multiply and the add (XLA) rounds once and NumPy twice: an ulp of
    ``x * scale`` per input. Carried through the rest of the network by its kernels' spectral
    norms (relu and tanh are 1-Lipschitz)."""
    kernels = [np.asarray(k, dtype=np.float64) for k in _dense_kernels(model)]
    seen = [np.abs(first.inputs_of(x.astype(np.float32))).astype(np.float64) for x in (rows, copy)]
    per_input = rows.shape[1] * (seen[0] + seen[1])
    if kind == "rescaling":
        per_input = per_input + np.abs(copy * np.asarray(model.layers[1].scale, dtype=np.float64))
    pre = F32_EPS * (per_input @ np.abs(kernels[0]))
    gain = float(np.prod([np.linalg.norm(k, 2) for k in kernels[1:]]))
    return float(np.linalg.norm(pre, axis=1).max()) * gain


def _dense_kernels(model) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    return [np.asarray(layer.kernel) for layer in model.layers if type(layer).__name__ == "Dense"]


@pytest.mark.parametrize("kind", ["normalization", "rescaling", "plain"])
def test_copies_by_low_rank_update_equal_the_full_forward(kind):
    model, data = _problem(kind)
    fast = KerasModel(model, rank_one_updates=True)
    first = fast.first_dense()
    assert first is not None and first.layer == model.layers[-3].name
    X = data.X
    rng = np.random.default_rng(1)
    perm = rng.permutation(len(X))
    copies = [
        (np.array([0]), X[perm][:, [0]]),
        (np.array([2]), np.float32([1e4])),  # one value for every row (occlusion)
        (np.array([1, 3, 5]), X[perm][:, [1, 3, 5]]),  # a group: a rank-3 update
    ]
    at = first.at(X)
    for columns, values in copies:
        expected = X.copy()
        expected[:, columns] = values
        got = at.predict_copies([(columns, values)])
        # Another summation order in the first layer: outputs within a few ulps of their scale,
        # plus what rounding inside the network can do to them (``_rounding_atol``).
        atol = output_atol(fast, expected, terms=1) + _rounding_atol(
            model, first, X, expected, kind
        )
        assert_within(got, fast.predict(expected), atol)
    # Several copies in one call come back in order.
    together = at.predict_copies(copies[:2])
    np.testing.assert_array_equal(together[: len(X)], at.predict_copies(copies[:1]))


def test_the_split_leaves_the_model_as_it_was(tmp_path):
    import keras

    model, data = _problem()
    layers = [len(layer._inbound_nodes) for layer in model.layers]
    assert KerasModel(model, rank_one_updates=True).first_dense() is not None
    assert [len(layer._inbound_nodes) for layer in model.layers] == layers
    model.save(tmp_path / "after.keras")
    again = keras.saving.load_model(tmp_path / "after.keras")
    np.testing.assert_array_equal(
        again.predict(data.X[:5], verbose=0), model.predict(data.X[:5], verbose=0)
    )


@pytest.mark.parametrize("method", [Permutation, Probe])
def test_importance_by_low_rank_update_equals_the_full_forward(method):
    model, data = _problem()
    fast, full = KerasModel(model, rank_one_updates=True), KerasModel(model, rank_one_updates=False)
    assert fast.first_dense() is not None and full.first_dense() is None
    groups = {"pair": ("c3", "c4")}
    ours = method(random_state=0, groups=groups).compute(fast, data)
    reference = method(random_state=0, groups=groups).compute(full, data)
    assert ours.features == reference.features
    atol = importance_atol(full, data.X, data.y, reference.repeats, scoring="mse")
    assert_within(ours.repeats, reference.repeats, atol)
    # The drivers still come first, the noise last.
    assert set(ours.features[i] for i in np.argsort(-ours.mean)[:3]) == {"c0", "c1", "c2"}


def test_structures_without_a_first_dense_layer_keep_the_full_forward():
    import keras

    inputs = keras.Input((4,))
    skip = keras.layers.Concatenate()([keras.layers.Dense(3)(inputs), inputs])
    with_skip = keras.Model(inputs, keras.layers.Dense(1)(skip))
    shared = keras.layers.Dense(4)
    twice = keras.Model(inputs, keras.layers.Dense(1)(shared(shared(inputs))))
    normalised_first = keras.Sequential(
        [keras.Input((4,)), keras.layers.BatchNormalization(), keras.layers.Dense(1)]
    )
    lora = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), keras.layers.Dense(1)])
    lora.layers[0].enable_lora(1)
    for model in (with_skip, twice, normalised_first, lora):
        assert KerasModel(model, rank_one_updates=True).first_dense() is None, model


def test_a_single_dense_layer_is_its_own_first_and_last():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    first = KerasModel(model, rank_one_updates=True).first_dense()
    assert first is not None
    changed = X.copy()
    changed[:, 1] = 0.0
    got = first.at(X).predict_copies([(np.array([1]), np.float32([0.0]))])
    full = KerasModel(model)
    assert_within(got, full.predict(changed), output_atol(full, changed, terms=1))


def test_a_loaded_sequential_model_splits_as_a_chain(tmp_path):
    """A built Sequential model's layers hold several graph nodes; its split is its chain."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Rescaling(0.5, offset=1.0),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.save(tmp_path / "chain.keras")
    loaded = KerasModel(keras.saving.load_model(tmp_path / "chain.keras"), rank_one_updates=True)
    first = loaded.first_dense()
    assert first is not None and first.layer == model.layers[1].name
    X = np.random.default_rng(2).normal(size=(200, 5)).astype(np.float32)
    changed = X.copy()
    changed[:, 4] = X[::-1, 4]
    got = first.at(X).predict_copies([(np.array([4]), X[::-1, [4]])])
    # Dropout is off (training=False) on both paths.
    assert_within(got, loaded.predict(changed), output_atol(loaded, changed, terms=1))


def test_by_default_only_where_the_first_layer_holds_most_of_the_work():
    import keras

    def chain(n_features: int, units: int) -> KerasModel:
        return KerasModel(
            keras.Sequential(
                [
                    keras.Input((n_features,)),
                    keras.layers.Dense(units, activation="relu"),
                    keras.layers.Dense(32, activation="relu"),
                    keras.layers.Dense(1),
                ]
            )
        )

    assert chain(100, 32).first_dense() is not None  # 3,200 of 4,256 multiply-adds
    assert chain(10, 64).first_dense() is None  # 640 of 2,720: the updates cost more


def test_blocks_of_rows_give_the_same_copies(monkeypatch):
    from importance_tasks.keras import first_layer

    model, data = _problem()
    first = KerasModel(model, rank_one_updates=True).first_dense()
    copies = [(np.array([0]), data.X[::-1, [0]]), (np.array([1, 2]), np.float32([0.0, 1e4]))]
    whole = first.at(data.X).predict_copies(copies)
    monkeypatch.setattr(first_layer, "BLOCK_ROWS", 700)  # 3,000 rows in 5 blocks
    blocked = first.at(data.X)
    assert len(blocked.pre_blocks) == 5
    # Other batch shapes through the rest of the network: within its float32 rounding.
    atol = output_atol(KerasModel(model), data.X, terms=1)
    assert_within(blocked.predict_copies(copies), whole, atol)
