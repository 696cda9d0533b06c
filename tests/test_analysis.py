from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.analysis import explain
from importance_tasks.config import DEFAULT_METHODS
from importance_tasks.data import EvalData
from importance_tasks.errors import InputError
from importance_tasks.model import CallableModel
from tests.conftest import dense_model


def test_explain_runs_every_method_and_builds_consensus(friedman):
    analysis = explain(friedman.model, friedman.data, seed=0)
    assert list(analysis.results) == list(DEFAULT_METHODS)
    assert analysis.consensus.methods == tuple(m for m in DEFAULT_METHODS if m != "weights")
    assert "weights" in analysis.consensus.excluded  # the naive baseline: shown, not counted
    assert set(analysis.consensus.rank[:5]) <= {1, 2, 3, 4, 5, 6}
    payload = analysis.as_dict()
    assert payload["features"] == list(friedman.data.feature_names)
    assert set(payload["methods"]["permutation"]) == {
        "importance",
        "std",
        "rank",
        "rank_interval",
        "p_top_5",
        "seconds",
        "settings",
        "status",
    }
    assert set(payload) >= {"clusters", "cluster_importance"}
    # Every default method did the work sized for it, and counts.
    assert {m["status"] for m in payload["methods"].values()} == {"complete"}
    # Friedman #1: the target does not depend on x5..x9; every method says so.
    assert payload["negligible"] == ["x5", "x6", "x7", "x8", "x9"]


def test_seed_reaches_every_method(friedman):
    a = explain(friedman.model, friedman.data, methods=["permutation"], seed=3)
    b = explain(friedman.model, friedman.data, methods=["permutation"], seed=3)
    np.testing.assert_array_equal(a.results["permutation"].mean, b.results["permutation"].mean)


def test_unsupported_method_is_skipped_only_when_asked(friedman):
    model = CallableModel(friedman.model.predict, n_features=10)
    analysis = explain(model, friedman.data, methods=["probe", "weights"], skip_unsupported=True)
    assert (
        list(analysis.results) == ["probe"] and "needs a Keras model" in analysis.skipped["weights"]
    )
    with pytest.raises(ValueError, match="needs a Keras model"):
        explain(model, friedman.data, methods=["probe", "weights"])


def test_bad_method_names_and_options_are_refused(friedman):
    with pytest.raises(ValueError, match=r"methods\[0\]='lasso' is not allowed"):
        explain(friedman.model, friedman.data, methods=["lasso"])
    with pytest.raises(ValueError, match="options given for methods that do not run"):
        explain(friedman.model, friedman.data, methods=["probe"], method_options={"weights": {}})
    with pytest.raises(InputError, match=r"\['probe'\]: unknown options \['n_repeats'\]"):
        explain(
            friedman.model,
            friedman.data,
            methods=["probe"],
            method_options={"probe": {"n_repeats": 2}},
        )


def test_constant_columns_are_not_evaluable_rather_than_least_important(friedman):
    X = friedman.data.X.copy()
    X[:, 2] = 0.5  # x2 matters to the model, but this data cannot show it
    data = EvalData(X=X, y=friedman.data.y, feature_names=friedman.data.feature_names)
    methods = ["permutation", "probe", "weights", "integrated_gradients"]
    analysis = explain(friedman.model, data, methods=methods, seed=0)
    for name, result in analysis.results.items():
        assert np.isnan(result.mean[2]) and np.isnan(result.std[2]), name
        assert result.diagnostics["not_evaluable"] == {"x2": "constant in the evaluation data"}
        assert result.rank[2] == 10  # after every evaluated feature
        assert not np.isnan(np.delete(result.mean, 2)).any()
    assert analysis.consensus.rank[2] == 10
    grouped = explain(
        friedman.model, data, methods=["permutation"], groups={"g": ["x2", "x3"]}, seed=0
    )
    assert "not_evaluable" not in grouped.results["permutation"].diagnostics  # x3 still varies


def test_sequence_inputs_are_refused_and_multi_output_regression_works(friedman):
    import keras

    from importance_tasks.errors import UnsupportedModelError
    from importance_tasks.keras import KerasModel
    from importance_tasks.keras.keras_model import heads_of

    a, b = keras.Input(shape=(2,), name="a"), keras.Input(shape=(1, 3, 1), name="b")
    flat = keras.layers.Flatten()(b)
    two_inputs = keras.Model([a, b], keras.layers.Dense(1)(keras.layers.Concatenate()([a, flat])))
    with pytest.raises(UnsupportedModelError, match=r"input 'b' has shape \(None, 1, 3, 1\)"):
        KerasModel(two_inputs)  # named inputs are columns (tests/test_model_inputs.py); not b

    # Two regression outputs: y0 depends on x0 only, y1 on x1 only (exact weights).
    kernel = np.zeros((3, 2))
    kernel[0, 0], kernel[1, 1] = 2.0, -1.0
    model = KerasModel(dense_model([kernel]))
    X = np.random.default_rng(0).normal(size=(400, 3))
    y = model.predict(X.astype(np.float32))
    data = EvalData(X=X, y=y, feature_names=("x0", "x1", "x2"))
    analysis = explain(model, data, methods=["permutation", "probe", "integrated_gradients"])
    for name, result in analysis.results.items():
        assert result.mean[2] == pytest.approx(0.0, abs=1e-9), name  # x2 is unused
        assert min(result.mean[:2]) > 0, name
    # One output of width 2 is one head whose targets are its columns, not two heads.
    [(head, bound, same)] = heads_of(model, data, ["y0", "y1"])
    assert head.key == "y0,y1" and same is data and bound.n_features == 3
