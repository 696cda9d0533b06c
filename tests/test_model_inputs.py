"""Models with named inputs (Keras' structured-data style) take data columns by name."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from importance_tasks.analysis import explain
from importance_tasks.data import EvalData
from importance_tasks.errors import DataError, UnsupportedModelError
from importance_tasks.keras import KerasModel
from importance_tasks.methods import Permutation
from tests.conftest import dense_model
from tests.precision import assert_within, importance_atol

# age (None, 1) through Normalization(mean 1, variance 4), income (None,), noise (None, 1),
# pair (None, 2): y = 3 * (age - 1) / 2 + 2 * income + 0 * noise + pair[0] + 0 * pair[1]
KERNEL = {"age": 3.0, "income": 2.0, "noise": 0.0, "pair[0]": 1.0, "pair[1]": 0.0}
DATA_ORDER = ("noise", "pair[1]", "income", "age", "pair[0]")  # not the inputs' order
ROWS = ("noise", "pair", "income", "age")  # pair[0] and pair[1]: one (None, 2) input, one row


def _named_model():
    import keras

    age = keras.Input(shape=(1,), name="age")
    income = keras.Input(shape=(), name="income")
    noise = keras.Input(shape=(1,), name="noise")
    pair = keras.Input(shape=(2,), name="pair")
    joined = keras.layers.Concatenate()(
        [
            keras.layers.Normalization(mean=1.0, variance=4.0)(age),
            keras.layers.Reshape((1,))(income),
            noise,
            pair,
        ]
    )
    dense = keras.layers.Dense(1)
    model = keras.Model({"age": age, "income": income, "noise": noise, "pair": pair}, dense(joined))
    dense.set_weights(
        [np.array([[3.0], [2.0], [0.0], [1.0], [0.0]], np.float32), np.zeros(1, np.float32)]
    )
    return model


def _data(n_rows: int = 400) -> EvalData:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_rows, len(DATA_ORDER))) * 2 + 1
    kernel = np.array([KERNEL[c] for c in DATA_ORDER])
    scale = np.array([0.5 if c == "age" else 1.0 for c in DATA_ORDER])  # Normalization's 1/sd
    shift = np.array([1.0 if c == "age" else 0.0 for c in DATA_ORDER])
    y = ((X - shift) * scale) @ kernel
    return EvalData(X=X, y=y, feature_names=DATA_ORDER)


def test_named_inputs_take_their_columns_by_name():
    data = _data()
    model = KerasModel(_named_model())
    assert model.feature_names == ("age", "income", "noise", "pair[0]", "pair[1]")
    bound = model.bind(data)
    np.testing.assert_allclose(bound.predict(data.X)[:, 0], data.y, rtol=1e-5, atol=1e-4)
    # The same numbers as the equivalent single-input model on the data's column order.
    kernel = np.array([KERNEL[c] * (0.5 if c == "age" else 1.0) for c in DATA_ORDER])
    flat = KerasModel(dense_model([kernel[:, None]], [np.array([-1.5])]))
    np.testing.assert_allclose(bound.predict(data.X), flat.predict(data.X), rtol=1e-5, atol=1e-5)


def test_every_method_ranks_the_named_columns():
    data = _data()
    analysis = explain(
        KerasModel(_named_model()),
        data,
        methods=["permutation", "probe", "integrated_gradients", "shap", "lime", "sage"],
        skip_unsupported=True,
        seed=0,
    )
    for name, result in analysis.results.items():
        assert result.features == ROWS, name
        assert result.groups["pair"] == ("pair[0]", "pair[1]")
        importance = dict(zip(result.features, result.mean, strict=True))
        drivers = min(importance["age"], importance["income"], importance["pair"])
        assert drivers > 0.1, name
        # Unused inputs: exactly nothing for the methods that perturb the model's inputs; LIME's
        # ridge surrogate leaves a shrinkage residue far below the drivers.
        limit = 0.01 * drivers if name == "lime" else 1e-6
        assert abs(importance["noise"]) < limit, name
    ig = analysis.results["integrated_gradients"]
    assert ig.diagnostics["completeness_gap"] < 1e-5  # linear: exact


def test_a_multi_column_input_is_a_group_unless_the_configuration_groups_its_columns():
    data = _data()
    alone = explain(
        KerasModel(_named_model()), data, methods=["permutation"], groups={"first": ["pair[0]"]}
    ).results["permutation"]
    assert alone.features == ("noise", "pair[1]", "income", "age", "first")
    importance = dict(zip(alone.features, alone.mean, strict=True))
    assert importance["pair[1]"] == 0.0 and importance["first"] > 0.1  # its weight is 0


def test_permutation_equals_the_equivalent_single_input_model():
    data = _data()
    kernel = np.array([KERNEL[c] * (0.5 if c == "age" else 1.0) for c in DATA_ORDER])
    flat = KerasModel(dense_model([kernel[:, None]], [np.array([-1.5])]))
    ours = Permutation(n_repeats=3, random_state=1).compute(
        KerasModel(_named_model()).bind(data), data
    )
    theirs = Permutation(n_repeats=3, random_state=1).compute(flat, data)
    atol = importance_atol(flat, data.X, data.y, theirs.repeats, scoring="mse")
    assert_within(ours.repeats, theirs.repeats, atol)


def test_missing_and_extra_columns_are_named():
    model = KerasModel(_named_model())
    columns = ("noise", "extra", "income", "age", "pair[0]")
    data = EvalData(X=np.zeros((3, 5)), y=np.zeros(3), feature_names=columns)
    with pytest.raises(DataError, match=r"lacks \['pair\[1\]'\] and has \['extra'\]"):
        model.bind(data)


def test_image_inputs_are_refused_by_name():
    # (None, H, W, C) is an image; (None, T, k) beside columns is a window (test_windows.py).
    import keras

    image = keras.Input(shape=(4, 4, 1), name="picture")
    other = keras.Input(shape=(1,), name="x")
    flat = keras.layers.Flatten()(image)
    model = keras.Model(
        [image, other], keras.layers.Dense(1)(keras.layers.Concatenate()([flat, other]))
    )
    with pytest.raises(UnsupportedModelError, match=r"input 'picture' has shape \(None, 4, 4, 1\)"):
        KerasModel(model)


def test_cli_on_a_saved_named_input_model(tmp_path, capsys):
    from importance_tasks.cli.commands import main

    model_path = tmp_path / "named.keras"
    _named_model().save(model_path)
    data = _data()
    frame = pd.DataFrame(data.X, columns=list(DATA_ORDER))
    frame["y"] = data.y
    frame.to_parquet(tmp_path / "eval.parquet")
    out = tmp_path / "r.json"
    args = ["explain", "--model", str(model_path), "--data", str(tmp_path / "eval.parquet")]
    assert (
        main([*args, "--target", "y", "--methods", "permutation,weights", "--json", str(out)]) == 0
    )
    payload = json.loads(out.read_text())
    assert payload["features"] == list(ROWS)
    permutation = payload["methods"]["permutation"]["importance"]
    assert permutation["noise"] == pytest.approx(0.0, abs=1e-9) and permutation["age"] > 0.1
    assert "weights skipped" in capsys.readouterr().out  # not a Dense chain: said, not failed
    frame.drop(columns="noise").to_parquet(tmp_path / "missing.parquet")
    args[-1] = str(tmp_path / "missing.parquet")
    assert main([*args, "--target", "y", "--methods", "permutation"]) == 2
    assert "lacks ['noise']" in capsys.readouterr().err
