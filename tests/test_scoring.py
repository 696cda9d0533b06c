from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from importance_tasks.scoring import SCORERS, get_scorer, infer_task

rng = np.random.default_rng(0)
Y_REG = rng.normal(size=50)
OUT_REG = (Y_REG + rng.normal(scale=0.3, size=50))[:, None]
Y_BIN = rng.integers(0, 2, size=50)
OUT_BIN = rng.uniform(size=(50, 1))
Y_MULTI = rng.integers(0, 3, size=60)
OUT_MULTI = rng.dirichlet(np.ones(3), size=60)


@pytest.mark.parametrize(
    "name,y,out,expected",
    [
        ("mse", Y_REG, OUT_REG, metrics.mean_squared_error(Y_REG, OUT_REG[:, 0])),
        ("mae", Y_REG, OUT_REG, metrics.mean_absolute_error(Y_REG, OUT_REG[:, 0])),
        ("r2", Y_REG, OUT_REG, -metrics.r2_score(Y_REG, OUT_REG[:, 0])),
        ("log_loss", Y_BIN, OUT_BIN, metrics.log_loss(Y_BIN, OUT_BIN[:, 0])),
        ("accuracy", Y_BIN, OUT_BIN, -metrics.accuracy_score(Y_BIN, OUT_BIN[:, 0] > 0.5)),
        ("roc_auc", Y_BIN, OUT_BIN, -metrics.roc_auc_score(Y_BIN, OUT_BIN[:, 0])),
        ("log_loss", Y_MULTI, OUT_MULTI, metrics.log_loss(Y_MULTI, OUT_MULTI)),
        ("accuracy", Y_MULTI, OUT_MULTI, -metrics.accuracy_score(Y_MULTI, OUT_MULTI.argmax(1))),
        (
            "roc_auc",
            Y_MULTI,
            OUT_MULTI,
            -metrics.roc_auc_score(Y_MULTI, OUT_MULTI, multi_class="ovr"),
        ),
    ],
)
def test_losses_are_sklearn_metrics(name, y, out, expected):
    scorer = get_scorer(name, output=out, y=y)
    assert scorer.loss(y, out) == pytest.approx(expected, rel=1e-9)


def test_sample_weight_is_passed_through():
    weight = rng.uniform(size=50)
    expected = metrics.mean_squared_error(Y_REG, OUT_REG[:, 0], sample_weight=weight)
    assert SCORERS["mse"].loss(Y_REG, OUT_REG, weight) == pytest.approx(expected)


def test_auto_picks_the_task_default():
    assert get_scorer("auto", output=OUT_REG, y=Y_REG).name == "mse"
    assert get_scorer("auto", output=OUT_BIN, y=Y_BIN).name == "log_loss"
    assert get_scorer("auto", output=OUT_MULTI, y=Y_MULTI).name == "log_loss"
    assert infer_task(OUT_BIN * 5, Y_BIN) == "regression"


def test_classification_scorer_on_regression_output_is_refused():
    with pytest.raises(ValueError, match=r"needs class probabilities.*ranges over"):
        get_scorer("log_loss", output=OUT_REG, y=Y_REG)


def test_regression_scorer_on_multiclass_output_is_refused():
    with pytest.raises(ValueError, match=r"3 output.*use log_loss"):
        get_scorer("mse", output=OUT_MULTI, y=Y_MULTI)


def test_labels_outside_the_classes_are_refused():
    with pytest.raises(ValueError, match=r"labels must be integers 0..2"):
        get_scorer("accuracy", output=OUT_MULTI, y=Y_MULTI + 5)


def test_unknown_scorer_lists_the_choices():
    with pytest.raises(ValueError, match="choose one of: auto, mse, mae, r2"):
        get_scorer("f1", output=OUT_BIN, y=Y_BIN)


@pytest.mark.parametrize("seed", range(5))
def test_numpy_losses_equal_scikit_learn_with_weights_outputs_and_extremes(seed):
    """mse/mae/log_loss/accuracy are computed in numpy for speed: they must equal
    scikit-learn's functions, with sample weights, several outputs and 0/1 probabilities."""
    r = np.random.default_rng(seed)
    n = int(r.integers(2, 300))
    weight = r.uniform(0, 3, size=n) if seed % 2 else None
    y = r.normal(size=(n, 2))
    out = y + r.normal(size=(n, 2))
    assert SCORERS["mse"].loss(y, out, weight) == pytest.approx(
        metrics.mean_squared_error(y, out, sample_weight=weight), rel=1e-12
    )
    assert SCORERS["mae"].loss(y, out, weight) == pytest.approx(
        metrics.mean_absolute_error(y, out, sample_weight=weight), rel=1e-12
    )
    labels = r.integers(0, 4, size=n)
    proba = r.dirichlet(np.ones(4), size=n)
    proba[: n // 3] = np.eye(4)[r.integers(0, 4, size=n // 3)]  # certain, often wrong
    expected = metrics.log_loss(labels, proba, sample_weight=weight, labels=np.arange(4))
    assert SCORERS["log_loss"].loss(labels, proba, weight) == pytest.approx(expected, rel=1e-12)
    accuracy = metrics.accuracy_score(labels, proba.argmax(axis=1), sample_weight=weight)
    assert SCORERS["accuracy"].loss(labels, proba, weight) == pytest.approx(-accuracy, rel=1e-12)


def test_class_probability_is_the_probability_of_each_rows_label():
    # By hand: softmax rows give 0.8 and 0.6 to their labels, a sigmoid 0.9 and 1 - 0.3.
    scorer = get_scorer(
        "class_probability", output=np.array([[0.2, 0.8], [0.6, 0.4]]), y=np.array([1, 0])
    )
    np.testing.assert_allclose(
        scorer.row_losses(np.array([1, 0]), np.array([[0.2, 0.8], [0.6, 0.4]])), [-0.8, -0.6]
    )
    sigmoid = np.array([[0.9], [0.3]])
    assert scorer.loss(np.array([1, 0]), sigmoid) == pytest.approx(-0.8)
