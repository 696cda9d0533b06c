"""Sequence models over windows (None, T, F): each variable ranked over its whole window."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from importance_tasks.analysis import explain
from importance_tasks.config import AnalysisConfig
from importance_tasks.errors import DataError, InputError
from importance_tasks.keras import KerasModel, for_data
from importance_tasks.methods import REGISTRY
from importance_tasks.stage.inputs import data_digest
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
    data = read_windows(path, steps=STEPS, feature_names=VARIABLES)
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
        assert ("by_step" in result.diagnostics) == REGISTRY[name].per_step, name
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
    data = read_windows(path, steps=STEPS, feature_names=VARIABLES)
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
    data = read_windows(path, steps=STEPS)
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
        read_windows(tmp_path / "no_y.npz", steps=STEPS)
    np.savez(tmp_path / "flat.npz", X=rng.normal(size=(5, 4)), y=np.zeros(5))
    with pytest.raises(DataError, match=r"has shape \(5, 4\); windows need"):
        read_windows(tmp_path / "flat.npz", steps=STEPS)
    np.savez(tmp_path / "short.npz", X=rng.normal(size=(5, STEPS, 4)), y=np.zeros(4))
    with pytest.raises(DataError, match="5 windows in X but 4 targets"):
        read_windows(tmp_path / "short.npz", steps=STEPS)
    np.savez(tmp_path / "ok.npz", X=rng.normal(size=(5, STEPS, 4)), y=np.zeros(5))
    with pytest.raises(DataError, match="names 2 variables but the windows"):
        read_windows(tmp_path / "ok.npz", steps=STEPS, feature_names=["a", "b"])
    # A table of one row per step given to a window model: the message says what it takes.
    from importance_tasks.data import EvalData

    table = EvalData(X=np.zeros((5, 4), np.float32), y=np.zeros(5), feature_names=VARIABLES)
    with pytest.raises(DataError, match=r"windows of 6 steps x 4 variables.*\.npz"):
        for_data(KerasModel(_forecaster()), table)


def _long_table(n_steps: int = 400, n_series: int = 3):
    """The forecaster's data as a long table: one row per step of each of three stations, the
    rows shuffled, the target at each row the forecaster's output over the window ending there."""
    import pandas as pd

    rng = np.random.default_rng(1)
    frames = []
    for station in range(n_series):
        values = rng.normal(size=(n_steps, len(VARIABLES))).astype(np.float32)
        y = np.full(n_steps, np.nan)
        for end in range(STEPS - 1, n_steps):
            window = values[end - STEPS + 1 : end + 1]
            y[end] = 2.0 * window[-1, 0] + 0.6 * window[:-1, 1].sum()
        frame = pd.DataFrame(values, columns=list(VARIABLES))
        frame["y"], frame["hour"], frame["station"] = y, np.arange(n_steps), f"s{station}"
        frames.append(frame)
    return pd.concat(frames).sample(frac=1.0, random_state=0).reset_index(drop=True)


def test_windows_cut_from_a_long_table_by_series_and_time():
    import pandas as pd

    from importance_tasks.windows import Windowing, table_windows

    # Two series of 4 rows, shuffled; windows of 2 steps with the target 1 row after them.
    frame = pd.DataFrame(
        {
            "t": [3, 1, 2, 4, 2, 1, 3, 4],
            "unit": ["a", "a", "a", "a", "b", "b", "b", "b"],
            "v": [30.0, 10.0, 20.0, 40.0, 200.0, 100.0, 300.0, 400.0],
            "y": [3.0, 1.0, 2.0, np.nan, 20.0, 10.0, 30.0, 40.0],
        }
    ).sample(frac=1.0, random_state=3)
    data = table_windows(frame, target="y", steps=2, windowing=Windowing("t", "unit", horizon=1))
    assert data.feature_names == ("v[0]", "v[1]")
    rows = {tuple(r): float(y) for r, y in zip(data.X, data.y, strict=True)}
    # Series a: windows (10, 20) -> y at t=3 (3.0); (20, 30) -> y at t=4, missing: dropped.
    assert rows == {(10.0, 20.0): 3.0, (100.0, 200.0): 30.0, (200.0, 300.0): 40.0}


def test_a_long_table_ranks_as_its_windows_do(tmp_path):
    from importance_tasks.windows import Windowing, table_windows

    data = table_windows(
        _long_table(), target="y", steps=STEPS, windowing=Windowing("hour", "station")
    )
    assert len(data.X) == 3 * (400 - STEPS + 1)
    analysis = explain(KerasModel(_forecaster()), data, methods=["permutation", "probe"])
    for result in analysis.results.values():
        importance = dict(zip(result.features, result.mean, strict=True))
        assert set(sorted(importance, key=importance.get)[-2:]) == {"load", "temp"}
    # The model reproduces the table's targets exactly: the windows line up with them.
    predicted = KerasModel(_forecaster()).predict(data.X)[:, 0]
    np.testing.assert_allclose(predicted, data.y, rtol=1e-5, atol=1e-4)


def test_one_series_is_windowed_without_a_copy_and_every_method_gives_the_copy_s_results():
    """A table of one series becomes a read-only strided view of its rows (T times smaller
    than the windows' copy); every method reads it as it reads the copied windows."""
    import dataclasses

    from importance_tasks.windows import Windowing, table_windows

    table = _long_table(n_series=1).drop(columns="station")
    data = table_windows(table, target="y", steps=STEPS, windowing=Windowing("hour"))
    assert not data.X.flags.writeable and not data.X.flags.c_contiguous
    assert np.shares_memory(data.X[0], data.X[1])  # window 1 starts one row into window 0
    copied = dataclasses.replace(data, X=np.array(data.X))
    model = KerasModel(_forecaster())
    on_view = explain(model, data, methods=list(AGNOSTIC), seed=3)
    on_copy = explain(model, copied, methods=list(AGNOSTIC), seed=3)
    for name, result in on_view.results.items():
        np.testing.assert_allclose(result.mean, on_copy.results[name].mean, rtol=1e-5, err_msg=name)
        assert list(result.rank) == list(on_copy.results[name].rank), name
    assert data_digest(data) == data_digest(copied)


def test_clusters_and_conditional_permutation_work_on_variables():
    """temp2 is temp plus a little noise; the model reads temp only. The analysis finds the
    cluster of the two variables (not of a variable's own steps), ranks it by both variables'
    cells, and conditional permutation shuffles temp within strata of temp2: what is left is
    what temp carries beyond its twin, far below its marginal importance."""
    import keras

    from importance_tasks.windows import Windowing, table_windows

    table = _long_table()
    table["temp2"] = table["temp"] + np.random.default_rng(0).normal(scale=0.05, size=len(table))
    data = table_windows(table, target="y", steps=STEPS, windowing=Windowing("hour", "station"))
    inputs = keras.Input(shape=(STEPS, len(VARIABLES) + 1))
    dense = keras.layers.Dense(1, use_bias=False)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    kernel = np.zeros((STEPS, len(VARIABLES) + 1), dtype=np.float32)
    kernel[STEPS - 1, 0], kernel[: STEPS - 1, 1] = 2.0, 0.6
    dense.set_weights([kernel.reshape(-1, 1)])
    analysis = explain(KerasModel(model), data, methods=["permutation", "conditional_permutation"])
    assert [list(c) for c in analysis.dependence.clusters] == [["temp", "temp2"]]
    assert analysis.as_dict()["clusters"] == [["temp", "temp2"]]
    marginal, conditional = (analysis.results[m] for m in analysis.results)
    clustered = marginal.diagnostics["cluster_importance"]["temp+temp2"]
    assert set(clustered["columns"]) == {f"{v}[{t}]" for v in ("temp", "temp2") for t in range(6)}
    at = dict(zip(marginal.features, marginal.mean, strict=True))
    within = dict(zip(conditional.features, conditional.mean, strict=True))
    assert within["temp"] < 0.5 * at["temp"] and within["load"] == pytest.approx(at["load"])
    assert conditional.diagnostics["partners"]["temp"] == [f"temp2[{t}]" for t in range(6)]


def _history_and_columns():
    """A dict model: a window ``history`` of 6 steps x (load, temp, noise) beside a number
    ``size`` and a string ``region``; y = 2 load[5] + 0.6 (temp[0] + ... + temp[4]) +
    3 size + 1.5 [region == north], noise unused."""
    import keras

    history = keras.Input(shape=(STEPS, 3), name="history")
    size = keras.Input(shape=(1,), name="size")
    region = keras.Input(shape=(1,), dtype="string", name="region")
    past = keras.layers.Dense(1, use_bias=False, name="past")
    scale = keras.layers.Dense(1, use_bias=False, name="scale")
    place = keras.layers.Dense(1, use_bias=False, name="place")
    coded = keras.layers.StringLookup(vocabulary=["north", "south"], output_mode="one_hot")
    output = keras.layers.Add()(
        [past(keras.layers.Flatten()(history)), scale(size), place(coded(region))]
    )
    model = keras.Model({"history": history, "size": size, "region": region}, output)
    kernel = np.zeros((STEPS, 3), dtype=np.float32)
    kernel[STEPS - 1, 0], kernel[: STEPS - 1, 1] = 2.0, 0.6
    past.set_weights([kernel.reshape(-1, 1)])
    scale.set_weights([np.array([[3.0]], np.float32)])
    place.set_weights([np.array([[0.0], [1.5], [0.0]], np.float32)])
    return model


def _stations_with_columns():
    rng = np.random.default_rng(1)
    frames = []
    for station, (size, region) in enumerate([(1.0, "north"), (2.5, "south"), (0.5, "north")]):
        n = 300
        load, temp, noise = rng.normal(size=(3, n))
        y = np.full(n, np.nan)
        for end in range(STEPS - 1, n):
            y[end] = 2 * load[end] + 0.6 * temp[end - STEPS + 1 : end].sum()
        y += 3 * size + 1.5 * (region == "north")
        frames.append(
            pd.DataFrame({
                "hour": np.arange(n), "station": station, "load": load, "temp": temp,
                "noise": noise, "size": size, "region": region, "y": y,
            })
        )  # fmt: skip
    return pd.concat(frames).sample(frac=1.0, random_state=2)


@pytest.mark.tensorflow
def test_a_window_input_beside_named_columns(tmp_path, capsys):
    """The window's variables are the table's columns no other input takes; the other
    inputs' columns are taken at each window's last row (a string stays a string), and the
    model reproduces the table's target from those rows exactly."""
    from importance_tasks.cli.commands import main
    from importance_tasks.windows import Windowing, table_windows

    model = _history_and_columns()
    table = _stations_with_columns()
    data = table_windows(
        table, target="y", steps=STEPS, static=["size", "region"],
        feature_names=["load", "temp", "noise"], windowing=Windowing("hour", "station"),
    )  # fmt: skip
    assert data.feature_names[:3] == ("size", "region", "load[0]")
    bound = for_data(KerasModel(model), data)
    np.testing.assert_allclose(bound.predict(data.X)[:, 0], data.y, rtol=1e-5, atol=1e-4)
    analysis = explain(bound, data, methods=["permutation", "probe", "integrated_gradients"])
    assert set(analysis.consensus.features) == {"load", "temp", "noise", "size", "region"}
    for name, result in analysis.results.items():
        importance = dict(zip(result.features, result.mean, strict=True))
        assert importance["noise"] == pytest.approx(0.0, abs=1e-9), name
        assert min(importance["load"], importance["temp"], importance["size"]) > 0.05, name
    # From the command line: the same, the variables named by the columns left over.
    model.save(tmp_path / "mixed.keras")
    table.to_parquet(tmp_path / "stations.parquet")
    out = tmp_path / "mixed.json"
    code = main([
        "explain", "--model", str(tmp_path / "mixed.keras"), "--data",
        str(tmp_path / "stations.parquet"), "--target", "y", "--time-column", "hour",
        "--series-column", "station", "--methods", "permutation", "--json", str(out),
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    payload = json.loads(out.read_text())
    assert set(payload["features"]) == {"load", "temp", "noise", "size", "region"}
    assert payload["column_types"]["region"].startswith("string")
    assert len(payload["methods"]["permutation"]["by_step"]["load"]) == STEPS


def test_a_forecaster_with_two_heads_is_ranked_per_output_and_per_step(tmp_path):
    """Two heads over one window: ``now`` = 2 load[5], ``soon`` = 0.6 (temp[0] + ... +
    temp[4]); each output ranked by its own variable, its profile where that variable acts; a
    window missing either target is dropped."""
    import keras

    from importance_tasks.analysis import explain_outputs
    from importance_tasks.keras.keras_model import heads_of
    from importance_tasks.windows import Windowing, table_windows

    inputs = keras.Input(shape=(STEPS, len(VARIABLES)))
    flat = keras.layers.Flatten()(inputs)
    now = keras.layers.Dense(1, use_bias=False, name="now")
    soon = keras.layers.Dense(1, use_bias=False, name="soon")
    model = keras.Model(inputs, [now(flat), soon(flat)])
    for layer, (step, variable, weight) in ((now, (-1, 0, 2.0)), (soon, (slice(0, -1), 1, 0.6))):
        kernel = np.zeros((STEPS, len(VARIABLES)), dtype=np.float32)
        kernel[step, variable] = weight
        layer.set_weights([kernel.reshape(-1, 1)])
    table = _long_table()
    table["now"] = table["y"]  # any values: the ranking is of the model's own outputs
    table["soon"] = table["y"]
    table.loc[table["hour"] == 100, "soon"] = np.nan  # a window's end in each station
    data = table_windows(
        table.drop(columns="y"), target=["now", "soon"], steps=STEPS,
        windowing=Windowing("hour", "station"),
    )  # fmt: skip
    assert data.y.shape == (3 * (400 - STEPS + 1) - 3, 2) and not np.isnan(data.y).any()
    heads = heads_of(KerasModel(model), data, ["now", "soon"])
    analyses = explain_outputs(heads, AnalysisConfig(methods=("permutation",)))
    for output, variable, where in (("now", "load", [STEPS - 1]), ("soon", "temp", range(5))):
        result = analyses[output].results["permutation"]
        importance = dict(zip(result.features, result.mean, strict=True))
        assert max(importance, key=importance.get) == variable, output
        profile = np.asarray(result.diagnostics["by_step"][variable])
        assert set(np.flatnonzero(profile > 0.05 * profile.max())) == set(where), output


def test_the_memory_budget_counts_the_windows_copied_not_the_view(monkeypatch):
    """Windows of one series are a view: a budget below their copy's size still takes them;
    windows of several series are copied, and that copy is checked against the budget."""
    from importance_tasks.windows import Windowing, table_windows

    table = _long_table()  # 3 stations x 400 steps x 4 variables: 1,185 windows of 6 steps
    copy_bytes = 3 * (400 - STEPS + 1) * STEPS * len(VARIABLES) * 4
    monkeypatch.setenv("IMPORTANCE_TASKS_MAX_DATA_BYTES", str(copy_bytes // 2))
    one = table[table["station"] == "s0"].drop(columns="station")
    assert table_windows(one, target="y", steps=STEPS, windowing=Windowing("hour")).n_rows == 395
    with pytest.raises(DataError, match=r"the copy of 1,185 windows .* above the"):
        table_windows(table, target="y", steps=STEPS, windowing=Windowing("hour", "station"))


def test_bad_long_tables_are_named():
    import pandas as pd

    from importance_tasks.windows import Windowing, table_windows

    frame = pd.DataFrame({"t": [1, 1, 2], "v": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 2.0]})
    with pytest.raises(DataError, match="series_column 'unit' needs a time_column"):
        table_windows(frame, target="y", steps=2, windowing=Windowing(series_column="unit"))
    with pytest.raises(DataError, match="time column 't' repeats 1"):
        table_windows(frame, target="y", steps=2, windowing=Windowing("t"))
    in_order = Windowing(rows_in_time_order=True)
    with pytest.raises(DataError, match="fewer than 5 rows"):
        table_windows(frame.drop(columns="t"), target="y", steps=5, windowing=in_order)
    with pytest.raises(DataError, match="needs the order of its rows: give time_column"):
        table_windows(frame.drop(columns="t"), target="y", steps=2, windowing=Windowing())
    # A missing target is named before the variables are looked at.
    with pytest.raises(DataError, match=r"columns \['price'\] are not in the table"):
        table_windows(frame, target="price", steps=2, feature_names=["w"], windowing=in_order)
    with pytest.raises(DataError, match=r"variables \['kind'\] are not numbers"):
        table_windows(frame.assign(kind="x"), target="y", steps=2, windowing=Windowing("t"))
    with pytest.raises(DataError, match=r"variables \['w'\] are not in the table"):
        table_windows(frame, target="y", steps=2, feature_names=["w"], windowing=in_order)


def test_the_command_line_cuts_windows_from_a_table(tmp_path, capsys):
    from importance_tasks.cli.commands import main

    _long_table().to_parquet(tmp_path / "stations.parquet")
    _forecaster().save(tmp_path / "forecaster.keras")
    out = tmp_path / "result.json"
    code = main(
        [
            "explain", "--model", str(tmp_path / "forecaster.keras"),
            "--data", str(tmp_path / "stations.parquet"), "--target", "y",
            "--time-column", "hour", "--series-column", "station", "--methods", "permutation",
            "--json", str(out),
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert set(json.loads(out.read_text())["features"][:2]) == {"load", "temp"}


def test_a_shuffled_long_table_without_its_order_is_refused(tmp_path, capsys):
    """Rows of several stations in no order, no time column: windows would cut across
    stations and mean nothing. Refused (exit 2) naming time_column and rows_in_time_order,
    before the column names are checked; with the order given, the table is analysed."""
    from importance_tasks.cli.commands import main

    table = _long_table().sample(frac=1.0, random_state=0)
    table.drop(columns=["hour", "station"]).to_parquet(tmp_path / "shuffled.parquet")
    _forecaster().save(tmp_path / "forecaster.keras")
    args = [
        "explain", "--model", str(tmp_path / "forecaster.keras"),
        "--data", str(tmp_path / "shuffled.parquet"), "--target", "y",
        "--feature-names", "load,temp,noise_a,noise_b", "--methods", "permutation",
    ]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "needs the order of its rows: give time_column" in err
    assert "rows_in_time_order" in err
    assert main([a if a != "y" else "price" for a in args]) == 2
    assert "['price'] are not in the table" in capsys.readouterr().err


def test_a_model_of_any_length_takes_sequence_length(tmp_path, capsys):
    """An input (None, None, F) takes windows of any length: refused without
    sequence_length, naming it; with it, each variable ranked by its weight (the mean over
    the window's steps of 1.0 x load + 0.5 x temp; the noise variables weigh nothing)."""
    import keras

    from importance_tasks.cli.commands import main

    inputs = keras.Input(shape=(None, len(VARIABLES)))
    per_step = keras.layers.Dense(1, use_bias=False)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(per_step(inputs)))
    per_step.set_weights([np.array([[1.0], [0.5], [0.0], [0.0]], np.float32)])
    model.save(tmp_path / "any.keras")
    _long_table().to_parquet(tmp_path / "stations.parquet")
    args = [
        "explain", "--model", str(tmp_path / "any.keras"), "--data",
        str(tmp_path / "stations.parquet"), "--target", "y", "--time-column", "hour",
        "--series-column", "station", "--methods", "permutation,integrated_gradients",
    ]  # fmt: skip
    assert main(args) == 2
    assert "any length (input shape (None, None, 4))" in capsys.readouterr().err
    out = tmp_path / "any.json"
    assert main([*args, "--sequence-length", "3", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["features"] == list(VARIABLES)
    for name, method in payload["methods"].items():
        importance = method["importance"]
        assert importance["load"] > importance["temp"] > 0, name
        assert importance["noise_a"] == pytest.approx(0.0, abs=1e-9), name
        assert len(method["by_step"]["load"]) == 3, name
    fixed = KerasModel(_forecaster())
    with pytest.raises(InputError, match="sequence_length=4, but the model takes windows of 6"):
        fixed.with_steps(4)
    assert fixed.with_steps(STEPS).window == (STEPS, len(VARIABLES))


def test_cells_named_otherwise_are_grouped_by_position():
    # Rows hold step 0's variables, then step 1's: the groups follow the positions, whatever
    # the data calls its cells.
    from importance_tasks.data import EvalData
    from importance_tasks.model import input_groups

    names = tuple(f"c{i}" for i in range(STEPS * len(VARIABLES)))
    data = EvalData(X=np.zeros((3, len(names)), np.float32), y=np.zeros(3), feature_names=names)
    groups = input_groups(for_data(KerasModel(_forecaster()), data))
    assert groups["x1"] == tuple(f"c{t * 4 + 1}" for t in range(STEPS))


def test_each_variable_s_importance_per_step_lies_where_it_acts(tmp_path):
    # load acts at the last step only, temp at the five before it: permutation's profile is
    # the closed form per cell (2 x 4 for load's last cell, 2 x 0.36 for each of temp's), the
    # others' profiles put their importance at the same steps.
    from importance_tasks.report.document import method_csv

    path, _, _ = _windows(tmp_path, n=4000)
    data = read_windows(path, steps=STEPS, feature_names=VARIABLES)
    methods = ["permutation", "probe", "integrated_gradients"]
    analysis = explain(KerasModel(_forecaster()), data, methods=methods, scoring="mse")
    permutation = analysis.results["permutation"].diagnostics["by_step"]
    assert analysis.results["permutation"].settings["n_repeats"] == 5  # the variables': default
    used = analysis.results["permutation"].diagnostics["by_step_settings"]
    assert used == {"n_rows": 1000, "n_repeats": 2}  # the profile's sample of the 4,000
    assert permutation["load"][-1] == pytest.approx(8.0, rel=0.15)
    assert max(abs(v) for v in permutation["load"][:-1]) < 0.05
    assert permutation["temp"][:-1] == pytest.approx([0.72] * (STEPS - 1), rel=0.2)
    assert abs(permutation["temp"][-1]) < 0.05
    for name in methods:
        profile = analysis.results[name].diagnostics["by_step"]
        assert list(profile) == list(VARIABLES) and all(len(v) == STEPS for v in profile.values())
        assert int(np.argmax(profile["load"])) == STEPS - 1, name
        assert min(profile["temp"][:-1]) > 10 * abs(profile["temp"][-1]), name
        assert max(map(abs, profile["noise_a"])) < 0.05 * profile["load"][-1], name
    payload = analysis.as_dict()
    assert (
        payload["methods"]["probe"]["by_step"]["temp"]
        == analysis.results["probe"].diagnostics["by_step"]["temp"]
    )
    table = method_csv(analysis.results["permutation"]).splitlines()
    assert table[0].endswith(",".join(f"step_{t}" for t in range(STEPS)))


def test_per_step_permutation_equals_sklearn_on_the_flattened_windows(tmp_path):
    # Each cell a column: scikit-learn's permutation_importance around the model on the
    # flattened windows, for the same permutations, gives each cell's (a step's) importance.
    from sklearn.inspection import permutation_importance

    from importance_tasks.methods import Permutation
    from tests.methods.test_permutation import _sklearn_permutations, _wrap
    from tests.precision import assert_within, importance_atol

    path, _, _ = _windows(tmp_path, n=600)
    data = read_windows(path, steps=STEPS, feature_names=VARIABLES)
    model = for_data(KerasModel(_forecaster()), data)
    sk = permutation_importance(
        _wrap(model), data.X, data.y, scoring="neg_mean_squared_error", n_repeats=2,
        random_state=5,
    )  # fmt: skip
    cells = Permutation(n_repeats=2, permutations=_sklearn_permutations(5, data.n_rows, 2))
    ours = cells.compute(model, data, scoring="mse")
    assert ours.features == data.feature_names  # no groups: one row per cell
    atol = importance_atol(model, data.X, data.y, sk.importances, scoring="mse")
    assert_within(ours.repeats, sk.importances, atol)
    # And the per-variable permutation is a direct numpy loop over whole-variable shuffles.
    from importance_tasks.model import input_groups

    orders = _sklearn_permutations(9, data.n_rows, 2)
    by_variable = Permutation(n_repeats=2, permutations=orders, groups=input_groups(model))
    grouped = by_variable.compute(model, data, scoring="mse")
    X = data.X.reshape(len(data.X), STEPS, len(VARIABLES))
    base = np.mean((model.predict(data.X)[:, 0] - data.y) ** 2)
    for f, variable in enumerate(VARIABLES):
        losses = []
        for order in orders:
            shuffled = X.copy()
            shuffled[:, :, f] = X[order, :, f]
            predicted = model.predict(shuffled.reshape(len(X), -1))[:, 0]
            losses.append(np.mean((predicted - data.y) ** 2) - base)
        row = grouped.features.index(variable)
        assert grouped.mean[row] == pytest.approx(np.mean(losses), rel=1e-4, abs=1e-5)
