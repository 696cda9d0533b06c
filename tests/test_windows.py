"""Sequence models over windows (None, T, F): each variable ranked over its whole window."""

from __future__ import annotations

import json

import numpy as np
import pytest

from importance_tasks.analysis import explain
from importance_tasks.errors import DataError
from importance_tasks.keras import KerasModel, for_data
from importance_tasks.windows import cell_names, read_windows

STEPS, VARIABLES = 6, ("load", "temp", "noise_a", "noise_b")
AGNOSTIC = (
    "permutation", "conditional_permutation", "probe", "integrated_gradients", "shap", "lime",
    "sage",
)  # fmt: skip


def _forecaster():
    """A linear forecaster over windows of 6 steps x 4 variables, known by construction:
    2 x load at the window's last step + 0.6 x temp at each earlier step; the two noise
    variables have no weight at any step."""
    import keras

    inputs = keras.Input(shape=(STEPS, len(VARIABLES)))
    output = keras.layers.Dense(1, use_bias=False)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, output)
    kernel = np.zeros((STEPS, len(VARIABLES)), dtype=np.float32)
    kernel[STEPS - 1, 0] = 2.0
    kernel[: STEPS - 1, 1] = 0.6
    model.layers[-1].set_weights([kernel.reshape(-1, 1)])
    return model


def _windows(tmp_path, n: int = 1500):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, STEPS, len(VARIABLES))).astype(np.float32)
    y = 2.0 * X[:, -1, 0] + 0.6 * X[:, :-1, 1].sum(axis=1)
    path = tmp_path / "windows.npz"
    np.savez(path, X=X, y=y)
    return path, X, y


def test_every_model_agnostic_method_ranks_the_two_acting_variables_first(tmp_path):
    path, _, _ = _windows(tmp_path)
    data = read_windows(path, feature_names=VARIABLES)
    assert data.feature_names == cell_names(VARIABLES, STEPS)
    assert data.feature_names[:5] == ("load[0]", "temp[0]", "noise_a[0]", "noise_b[0]", "load[1]")
    analysis = explain(
        KerasModel(_forecaster()),
        data,
        methods=AGNOSTIC,
        method_options={"shap": {"time_budget_s": 3}, "sage": {"time_budget_s": 3}},
    )
    for name, result in analysis.results.items():
        assert set(result.features) == set(VARIABLES), name  # one row per variable
        importance = dict(zip(result.features, result.mean, strict=True))
        top = sorted(importance, key=importance.get, reverse=True)[:2]
        assert set(top) == {"load", "temp"}, (name, importance)
        scale = max(abs(importance["load"]), abs(importance["temp"]))
        for noise in ("noise_a", "noise_b"):
            assert abs(importance[noise]) < 0.05 * scale, (name, importance)


def test_a_variable_is_permuted_over_its_whole_window(tmp_path):
    # Known answer: shuffling all of temp's cells together across windows destroys 0.6 x the
    # sum of five independent N(0, 1) cells, so the squared error rises by 2 x 0.36 x 5.
    path, _, _ = _windows(tmp_path, n=4000)
    data = read_windows(path, feature_names=VARIABLES)
    analysis = explain(KerasModel(_forecaster()), data, methods=["permutation"], scoring="mse")
    result = analysis.results["permutation"]
    temp = float(result.mean[result.features.index("temp")])
    load = float(result.mean[result.features.index("load")])
    assert temp == pytest.approx(2 * 0.36 * 5, rel=0.1)
    assert load == pytest.approx(2 * 4.0, rel=0.1)


def test_an_lstm_forecaster_runs_every_gradient_and_perturbation_method(tmp_path):
    import keras

    inputs = keras.Input(shape=(STEPS, len(VARIABLES)))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(4)(inputs)))
    path, _, _ = _windows(tmp_path, n=300)
    data = read_windows(path)
    analysis = explain(
        KerasModel(model), data, methods=["permutation", "integrated_gradients", "probe"]
    )
    for result in analysis.results.values():
        assert result.features == ("x0", "x1", "x2", "x3")
        assert np.isfinite(result.mean).all()


def test_the_command_line_reads_windows_from_npz(tmp_path, capsys):
    from importance_tasks.cli.commands import main

    path, _, _ = _windows(tmp_path)
    _forecaster().save(tmp_path / "forecaster.keras")
    out = tmp_path / "result.json"
    code = main(
        [
            "explain", "--model", str(tmp_path / "forecaster.keras"), "--data", str(path),
            "--methods", "permutation,probe", "--feature-names", ",".join(VARIABLES),
            "--json", str(out),
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    payload = json.loads(out.read_text())
    assert set(payload["features"]) == set(VARIABLES)
    assert set(payload["features"][:2]) == {"load", "temp"}


def test_bad_windows_are_named(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "no_y.npz", X=rng.normal(size=(5, STEPS, 4)))
    with pytest.raises(DataError, match=r"lacks the array\(s\) \['y'\]"):
        read_windows(tmp_path / "no_y.npz")
    np.savez(tmp_path / "flat.npz", X=rng.normal(size=(5, 4)), y=np.zeros(5))
    with pytest.raises(DataError, match=r"has shape \(5, 4\); windows need"):
        read_windows(tmp_path / "flat.npz")
    np.savez(tmp_path / "short.npz", X=rng.normal(size=(5, STEPS, 4)), y=np.zeros(4))
    with pytest.raises(DataError, match="5 windows in X but 4 targets"):
        read_windows(tmp_path / "short.npz")
    np.savez(tmp_path / "ok.npz", X=rng.normal(size=(5, STEPS, 4)), y=np.zeros(5))
    with pytest.raises(DataError, match="names 2 variables but the windows"):
        read_windows(tmp_path / "ok.npz", feature_names=["a", "b"])
    # A table of one row per step given to a window model: the message says what it takes.
    from importance_tasks.data import EvalData

    table = EvalData(X=np.zeros((5, 4), np.float32), y=np.zeros(5), feature_names=VARIABLES)
    with pytest.raises(DataError, match=r"windows of 6 steps x 4 variables.*\.npz"):
        for_data(KerasModel(_forecaster()), table)
