"""Models with named string, integer and float inputs and lookups inside, on raw columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from importance_tasks.analysis import explain
from importance_tasks.data import EvalData, read_eval_data
from importance_tasks.errors import DataError
from importance_tasks.keras import KerasModel
from importance_tasks.methods import IntegratedGradients, Lime, Permutation, Probe
from tests.methods.test_permutation import _sklearn_permutations
from tests.mixed_models import (
    CITIES,
    CITY,
    DRIVERS,
    IGNORED,
    keras_inputs,
    mixed_frame,
    mixed_model,
)
from tests.precision import assert_within, importance_atol, output_atol

# Lookups of strings, hashing and crossing run on TensorFlow alone (keras.safe_load).
pytestmark = pytest.mark.tensorflow

DEFAULTS = ["permutation", "probe", "integrated_gradients", "shap", "lime", "sage", "weights"]


@pytest.fixture(scope="module")
def mixed():
    frame = mixed_frame()
    data = EvalData.from_frame(frame, target="y")
    return frame, data, KerasModel(mixed_model()).bind(data)


def test_codes_reach_the_model_as_its_raw_values(mixed):
    frame, data, model = mixed
    assert data.coded.tolist() == [True, False, False, True, False]  # colour, city
    assert data.column_type("plan") == "int64" and data.column_type("city") == "string"
    ours = model.predict(data.X)
    theirs = np.asarray(model.keras_model(keras_inputs(frame)), dtype=np.float64)
    assert_within(ours, theirs, output_atol(model, data.X, terms=1))
    np.testing.assert_allclose(ours[:, 0], frame["y"], atol=1e-5)  # the known function


def test_every_default_method_puts_the_drivers_first_and_the_ignored_at_zero(mixed):
    _, data, model = mixed
    analysis = explain(model, data, methods=DEFAULTS, seed=0, skip_unsupported=True)
    assert "StringLookup" in analysis.skipped["weights"]  # not a Dense stack: said, not faked
    for name, result in analysis.results.items():
        importance = dict(zip(result.features, result.mean, strict=True))
        drivers = min(importance[f] for f in DRIVERS)
        ignored = max(abs(importance[f]) for f in IGNORED)
        assert drivers > 0.01, (name, importance)  # SAGE's estimate of plan's 0.14 is rough
        # The model's output does not move with an ignored column: exactly nothing, except
        # LIME, whose local surrogate fits 0/1 indicators of a category to noise.
        assert ignored < (0.5 * drivers if name == "lime" else 1e-12), (name, importance)
    rank = dict(zip(analysis.consensus.features, analysis.consensus.rank, strict=True))
    assert max(rank[f] for f in DRIVERS) < min(rank[f] for f in IGNORED)
    assert set(analysis.negligible) == set(IGNORED)
    assert analysis.unseen == {}


def _explain_saved(model, frame, tmp_path, methods):  # type: ignore[no-untyped-def]
    """``importance-tasks explain`` on the model saved as .keras and the frame as parquet:
    its JSON."""
    from importance_tasks.cli.commands import main

    model.keras_model.save(tmp_path / "mixed.keras")
    frame.to_parquet(tmp_path / "eval.parquet")
    out = tmp_path / "r.json"
    args = ["explain", "--model", str(tmp_path / "mixed.keras"), "--data"]
    args += [str(tmp_path / "eval.parquet"), "--target", "y", "--methods", methods]
    assert main([*args, "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_values_a_lookup_has_no_entry_for_are_counted_not_refused(mixed, tmp_path, capsys):
    frame, _, model = mixed
    frame = frame.copy()
    frame.loc[frame.index[::20], "city"] = "mars"  # 5% of the rows
    frame.loc[frame.index[:3], "plan"] = 7
    payload = _explain_saved(model, frame, tmp_path, "permutation")
    assert payload["unseen"] == {"city": len(frame) // 20, "plan": 3}
    assert "lookups have no entry for (analysed as unknown): city in 30 rows, plan in 3" in (
        capsys.readouterr().out
    )


def test_integrated_gradients_attribute_a_string_column_at_its_lookup(mixed):
    frame, data, model = mixed
    result = IntegratedGradients(random_state=0, max_samples=1.0).compute(model, data)
    assert result.diagnostics["attributed_at"]["city"] == ["city_lookup"]
    assert "income" not in result.diagnostics["attributed_at"]  # a float: at the input itself
    assert result.diagnostics["completeness_gap"] < 1e-5  # a linear head: exact
    # Baseline "mean": the mean one-hot, so a row's city attribution is its city's weight
    # minus the frequency-weighted mean weight (the model is linear after the lookup).
    share = frame["city"].value_counts(normalize=True)
    mean_effect = sum(CITY[c] * share.get(c, 0.0) for c in CITIES)
    expected = np.abs(frame["city"].map(CITY) - mean_effect).mean()
    importance = dict(zip(result.features, result.mean, strict=True))
    assert importance["city"] == pytest.approx(expected, rel=1e-5)


def test_columns_mixed_inside_the_model_are_evaluable_only_together():
    import keras

    city = keras.Input(shape=(1,), name="city", dtype="string")
    colour = keras.Input(shape=(1,), name="colour", dtype="string")
    income = keras.Input(shape=(1,), name="income")
    crossed = keras.layers.HashedCrossing(num_bins=16, output_mode="one_hot")((city, colour))
    joined = keras.layers.Concatenate()([crossed, income])
    model = keras.Model(
        {"city": city, "colour": colour, "income": income}, keras.layers.Dense(1)(joined)
    )
    frame = mixed_frame(200)[["city", "colour", "income", "y"]]
    data = EvalData.from_frame(frame, target="y")
    method = IntegratedGradients(random_state=0)
    alone = method.compute(KerasModel(model).bind(data), data)
    reasons = alone.diagnostics["not_evaluable"]
    assert set(reasons) == {"city", "colour"}
    assert "['colour']" in reasons["city"] and "hashed_crossing" in reasons["city"]
    importance = dict(zip(alone.features, alone.mean, strict=True))
    assert np.isnan(importance["city"]) and importance["income"] > 0  # never a silent 0
    grouped = IntegratedGradients(random_state=0, groups={"place": ["city", "colour"]})
    together = grouped.compute(KerasModel(model).bind(data), data)
    assert "not_evaluable" not in together.diagnostics
    assert together.mean[together.features.index("place")] > 0


def test_probe_sets_a_string_column_to_its_most_frequent_value(mixed):
    frame, data, model = mixed
    result = Probe(n_bootstrap=2, random_state=0).compute(model, data)
    mode = frame["city"].mode()[0]
    probed = frame.assign(city=mode)
    output = np.asarray(model.keras_model(keras_inputs(probed)), dtype=np.float64)[:, 0]
    intact = np.asarray(model.keras_model(keras_inputs(frame)), dtype=np.float64)[:, 0]
    y = frame["y"].to_numpy()
    expected = np.mean((output - y) ** 2) - np.mean((intact - y) ** 2)
    importance = dict(zip(result.features, result.mean, strict=True))
    atol = importance_atol(model, data.X, data.y, [expected], scoring="mse")
    assert_within(np.array([importance["city"]]), np.array([expected]), atol)


def test_lime_equals_lime_with_categorical_features(mixed):
    """lime's tabular explainer, told which columns are categorical, samples them by their
    frequency and explains with 0/1 indicators; ours gives its weights for the same seed."""
    from lime.lime_tabular import LimeTabularExplainer

    from importance_tasks.methods._common import draw_sample

    _, data, model = mixed
    num_samples, rows = 400, 5
    model = KerasModel(model.keras_model, batch_rows=num_samples).bind(data)  # equal batches
    ours = Lime(num_samples=num_samples, max_samples=rows, random_state=2).compute(model, data)
    explainer = LimeTabularExplainer(
        data.X.astype(np.float64),
        mode="regression",
        categorical_features=np.flatnonzero(data.coded).tolist(),
        discretize_continuous=False,
        sample_around_instance=True,
        random_state=ours.settings["seed"],
    )
    sample = draw_sample(data, groups={}, seed=ours.settings["seed"], max_samples=rows)
    weights = np.zeros(sample.X.shape)
    for i, row in enumerate(sample.X.astype(np.float64)):
        explanation = explainer.explain_instance(
            row,
            lambda X: model.predict(X.astype(np.float32)).sum(axis=1),
            num_features=len(data.feature_names),
            num_samples=num_samples,
        )
        for column, weight in next(iter(explanation.as_map().values())):
            weights[i, column] = weight
    np.testing.assert_allclose(ours.mean, np.abs(weights).mean(axis=0), rtol=1e-7, atol=1e-10)


def test_permutation_equals_scikit_learn_on_a_dataframe_of_raw_columns(mixed):
    """scikit-learn shuffles the DataFrame's columns (strings and all) and predicts through a
    wrapper that hands Keras the columns as named inputs, in large batches."""
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.inspection import permutation_importance

    frame, data, model = mixed
    features = frame.drop(columns="y")

    class Wrapped(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            return self

        def predict(self, X: pd.DataFrame) -> np.ndarray:
            import tensorflow as tf

            rows = tf.data.Dataset.from_tensor_slices(keras_inputs(X)).batch(65_536)
            return model.keras_model.predict(rows, verbose=0)[:, 0]

    n_repeats, seed = 3, 5
    theirs = permutation_importance(
        Wrapped(),
        features,
        frame["y"].to_numpy(),
        scoring="neg_mean_squared_error",
        n_repeats=n_repeats,
        random_state=seed,
    )
    permutations = _sklearn_permutations(seed, data.n_rows, n_repeats)
    ours = Permutation(n_repeats=n_repeats, permutations=permutations).compute(model, data)
    atol = importance_atol(model, data.X, data.y, theirs.importances, scoring="mse")
    assert_within(ours.repeats, theirs.importances, atol)


def test_columns_that_do_not_fit_their_inputs_are_named(mixed):
    frame, _, model = mixed
    cases = {
        "city": (frame.assign(city=np.arange(len(frame))), "input 'city' takes strings"),
        "income": (frame.assign(income="rich"), "column 'income' holds strings"),
        "plan": (frame.assign(plan=frame["plan"] + 0.5), "column 'plan' holds fractions"),
        "extra": (frame.assign(extra=1.0), r"has \['extra'\] that no input takes"),
        "missing": (frame.drop(columns="noise"), r"lacks \['noise'\]"),
    }
    for changed, message in cases.values():
        with pytest.raises(DataError, match=message):
            KerasModel(model.keras_model).bind(EvalData.from_frame(changed, target="y"))
    one_matrix = KerasModel(_matrix_model())
    with pytest.raises(DataError, match=r"columns \['city', 'colour'\] hold strings"):
        one_matrix.bind(EvalData.from_frame(frame, target="y"))


def _matrix_model():
    import keras

    return keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(1)])


def test_a_feature_space_model_runs_every_method():
    """Keras' FeatureSpace: inputs, lookups and normalisation built by Keras itself."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    frame = mixed_frame(800, seed=1)
    space = keras.utils.FeatureSpace(
        features={
            "income": keras.utils.FeatureSpace.float_normalized(),
            "noise": keras.utils.FeatureSpace.float_normalized(),
            "city": keras.utils.FeatureSpace.string_categorical(num_oov_indices=1),
            "colour": keras.utils.FeatureSpace.string_categorical(num_oov_indices=1),
            "plan": keras.utils.FeatureSpace.integer_categorical(num_oov_indices=1),
        },
        output_mode="concat",
    )
    columns = {
        c: frame[c].to_numpy(str) if frame[c].dtype == object else frame[c].to_numpy()
        for c in ("income", "noise", "city", "colour", "plan")
    }
    rows = tf.data.Dataset.from_tensor_slices(columns)
    space.adapt(rows.batch(256))
    inputs = space.get_inputs()
    model = keras.Model(inputs, keras.layers.Dense(1)(space.get_encoded_features()))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    labelled = tf.data.Dataset.from_tensor_slices((columns, frame["y"].to_numpy(np.float32)))
    model.fit(labelled.batch(64), epochs=40, shuffle=False, verbose=0)
    data = EvalData.from_frame(frame, target="y")
    analysis = explain(KerasModel(model), data, methods=DEFAULTS[:-1], seed=0)
    for name, result in analysis.results.items():
        importance = dict(zip(result.features, result.mean, strict=True))
        assert min(importance[f] for f in DRIVERS) > max(importance[f] for f in IGNORED), name
    ig = analysis.results["integrated_gradients"]
    assert set(ig.diagnostics["attributed_at"]) >= {"city", "colour", "plan"}


def test_the_sanity_check_keeps_the_lookups_and_the_model_still_saves(mixed, tmp_path):
    _, data, model = mixed
    analysis = explain(
        model, data, methods=["permutation", "integrated_gradients"], seed=0, sanity_check=True
    )
    for result in analysis.results.values():
        assert "spearman" in result.diagnostics["sanity"]
    model.keras_model.save(tmp_path / "after.keras")  # splitting for IG left the graph intact


def test_cli_on_a_saved_mixed_model_shows_column_types(mixed, tmp_path, capsys):
    frame, _, model = mixed
    payload = _explain_saved(model, frame, tmp_path, "permutation,probe")
    table = capsys.readouterr().out
    assert "string (4 values)" in table and "int64" in table
    assert payload["column_types"]["city"] == "string (4 values)"
    rank = payload["consensus"]["rank"]
    assert max(rank[f] for f in DRIVERS) < min(rank[f] for f in IGNORED)
    data = read_eval_data(tmp_path / "eval.parquet", target="y")
    assert list(data.categories["city"]) == sorted(CITIES)
