"""Models with several outputs: each output analysed against its own target, by its own
features; outputs matched to targets by name, else by order; a column named like an output
that is not analysed is never taken for a feature."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from importance_tasks.analysis import by_output, explain_outputs
from importance_tasks.config import AnalysisConfig
from importance_tasks.contract import MethodStatus
from importance_tasks.data import EvalData
from importance_tasks.errors import DataError, UnsupportedModelError
from importance_tasks.keras import KerasModel, for_data
from importance_tasks.keras.heads import match_heads, output_names
from importance_tasks.keras.keras_model import heads_of

FEATURES = ("a", "b", "c", "d", "e")
# Every model-agnostic method that runs in a few seconds on 600 rows.
METHODS = ("permutation", "conditional_permutation", "probe", "integrated_gradients", "shap")


def two_heads(*, as_dict: bool = False):  # type: ignore[no-untyped-def]
    """price = 2a - b (linear) and churn = sigmoid(3c - 3d): disjoint features, exact
    weights; e is used by neither. With ``as_dict`` the outputs are a dict built churn
    first, so that Keras's sorted ``output_names`` differ from the model's order."""
    import keras

    x = keras.Input(shape=(len(FEATURES),), name="x")
    price = keras.layers.Dense(1, name="price")(x)
    churn = keras.layers.Dense(1, activation="sigmoid", name="churn")(x)
    outputs = {"price": price, "churn": churn} if as_dict else [price, churn]
    model = keras.Model(x, outputs)
    weights = {"price": [2.0, -1.0, 0, 0, 0], "churn": [0, 0, 3.0, -3.0, 0]}
    for name, w in weights.items():
        model.get_layer(name).set_weights(
            [np.array(w, dtype=np.float32)[:, None], np.zeros(1, np.float32)]
        )
    return model


def _frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, len(FEATURES)))
    frame = pd.DataFrame(X, columns=list(FEATURES))
    frame["price"] = 2 * X[:, 0] - X[:, 1]
    frame["churn"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-3 * (X[:, 2] - X[:, 3])))).astype(int)
    return frame


def _data(frame: pd.DataFrame, targets: list[str]) -> EvalData:
    return EvalData.from_frame(frame, target=targets, ignore=["price", "churn"])


def test_each_output_is_ranked_by_its_own_features_with_every_method():
    """The issue's known answer: outputs on disjoint features, each ranked by its own."""
    frame = _frame()
    heads = heads_of(KerasModel(two_heads()), _data(frame, ["price", "churn"]), ["price", "churn"])
    analyses = explain_outputs(heads, AnalysisConfig(methods=METHODS, auto_groups=False))
    assert list(analyses) == ["price", "churn"]
    own = {"price": {"a", "b"}, "churn": {"c", "d"}}
    for output, analysis in analyses.items():
        for name, result in analysis.results.items():
            top = {result.features[i] for i in np.argsort(result.rank)[:2]}
            assert top == own[output], (output, name)
            others = [i for i, f in enumerate(result.features) if f not in own[output]]
            assert np.abs(result.mean[others]).max() < 0.05 * result.mean.max(), (output, name)
    # Each output is scored as what it is: squared error for price, log loss for churn.
    assert analyses["price"].results["permutation"].settings["scoring"] == "mse"
    assert analyses["churn"].results["permutation"].settings["scoring"] == "log_loss"
    shaped = by_output(analyses)
    assert list(shaped) == ["outputs"] and list(shaped["outputs"]) == ["price", "churn"]
    assert shaped["outputs"]["churn"]["features"] == list(FEATURES)
    # One output of the two: today's shape, that output's ranking.
    [(head, model, data)] = heads_of(KerasModel(two_heads()), _data(frame, ["churn"]), ["churn"])
    one = explain_outputs([(head, model, data)], AnalysisConfig(methods=("permutation",)))
    assert "outputs" not in by_output(one) and "features" in by_output(one)
    ranked = one["churn"].results["permutation"]
    assert {ranked.features[i] for i in np.argsort(ranked.rank)[:2]} == {"c", "d"}


def test_each_head_does_the_same_work_and_numbers_whatever_the_order_of_the_targets():
    """The sampling methods size their work from each head's cost and the data, so a
    two-headed model's SHAP, SAGE and LIME do the same work for either head, in either order
    of the targets, and give the same numbers; e, which no head uses, is negligible for both."""
    frame = _frame()
    config = AnalysisConfig(methods=("shap", "sage", "lime", "permutation"), auto_groups=False)
    found = {}
    for order in (["price", "churn"], ["churn", "price"]):
        heads = heads_of(KerasModel(two_heads()), _data(frame, order), order)
        found[tuple(order)] = explain_outputs(heads, config)
    first, second = found[("price", "churn")], found[("churn", "price")]
    shap_rows = {first[o].results["shap"].settings["n_rows"] for o in ("price", "churn")}
    assert shap_rows == {200}  # the same work for both heads
    for output in ("price", "churn"):
        assert "e" in first[output].negligible
        for method in config.methods:
            a, b = first[output].results[method], second[output].results[method]
            assert a.status == b.status == MethodStatus.COMPLETE
            for key in ("n_rows", "max_evals", "n_orderings"):
                assert a.settings.get(key) == b.settings.get(key)
            np.testing.assert_allclose(a.mean, b.mean, rtol=1e-6, atol=1e-9)


def test_outputs_are_matched_by_name_else_by_order_and_dict_outputs_keep_their_order():
    model = two_heads(as_dict=True)
    assert model.output_names == ["churn", "price"]  # Keras sorts a dict's names...
    assert output_names(model) == ("price", "churn")  # ...the model's own order is kept
    X = _frame()[list(FEATURES)].to_numpy(np.float32)
    head = KerasModel(model).head(1)
    assert np.allclose(head.predict(X)[:, 0], 1 / (1 + np.exp(-3 * (X[:, 2] - X[:, 3]))), atol=1e-5)
    names = ("price", "churn")
    assert [(h.key, h.index) for h in match_heads(names, ["churn", "price"])] == [
        ("churn", 1),
        ("price", 0),
    ]
    assert [(h.key, h.index) for h in match_heads(names, ["p", "c"])] == [("p", 0), ("c", 1)]
    # A target named like another output than its place's is not matched by order.
    with pytest.raises(DataError, match=r"targets \['b'\] name none of them"):
        match_heads(names, ["churn", "b"])
    with pytest.raises(DataError, match=r"2 outputs \['price', 'churn'\]"):
        match_heads(names, ["y"])
    with pytest.raises(DataError, match="repeat"):
        match_heads(names, ["price", "price"])


def test_the_whole_model_is_refused_naming_its_outputs_not_a_column():
    """The issue's misleading message: 'the data has 9 feature columns: [..., churn]'."""
    frame = _frame()
    data = EvalData.from_frame(frame, target="price")  # churn left among the features
    with pytest.raises(UnsupportedModelError, match=r"2 outputs \['price', 'churn'\]") as found:
        for_data(KerasModel(two_heads()), data)
    assert "feature columns" not in str(found.value)


def test_the_command_line_analyses_both_outputs_or_one_and_names_the_other(tmp_path, capsys):
    from importance_tasks.cli.commands import main

    two_heads().save(tmp_path / "heads.keras")
    _frame().to_parquet(tmp_path / "eval.parquet")
    args = [
        "explain", "--model", str(tmp_path / "heads.keras"), "--data",
        str(tmp_path / "eval.parquet"), "--feature-names", ",".join(FEATURES),
        "--methods", "permutation,probe",
    ]  # fmt: skip
    out = tmp_path / "both.json"
    assert main([*args, "--target", "price", "--target", "churn", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert list(payload["outputs"]) == ["price", "churn"]
    churn = payload["outputs"]["churn"]["methods"]["permutation"]["importance"]
    assert min(churn["c"], churn["d"]) > 10 * max(churn["a"], churn["b"], churn["e"])
    printed = capsys.readouterr().out
    assert "output price:" in printed and "output churn:" in printed
    # Only price asked for: churn is named and left out of the features, today's shape.
    out = tmp_path / "price.json"
    assert main([*args, "--target", "price", "--json", str(out)]) == 0
    assert "column 'churn' is the model's output" in capsys.readouterr().err
    payload = json.loads(out.read_text())
    assert payload["features"] == list(FEATURES) and "outputs" not in payload
    # A scoring per output; one naming an output that is not analysed is refused.
    assert main([*args, "--target", "price,churn", "--scoring", "churn=accuracy"]) == 0
    assert main([*args, "--target", "churn", "--scoring", "price=mse"]) == 2
    assert "scoring names outputs ['price'] that are not analysed" in capsys.readouterr().err
