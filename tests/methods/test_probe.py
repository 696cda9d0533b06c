from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.data import EvalData
from importance_tasks.keras import KerasModel
from importance_tasks.methods import Probe
from tests.conftest import dense_model, linear_problem


def test_friedman_signal_features_rank_above_noise(friedman):
    result = Probe(random_state=0).compute(friedman.model, friedman.data)
    assert result.mean[:5].min() > result.mean[5:].max()
    assert result.repeats is not None and result.repeats.shape == (10, 50)


def test_constant_model_gets_zero_importance():
    model = KerasModel(dense_model([np.zeros((3, 1))], [np.array([-1.0])]))
    rng = np.random.default_rng(0)
    data = EvalData(X=rng.normal(size=(100, 3)), y=rng.normal(size=100), feature_names=tuple("abc"))
    for mode in ("occlusion", "onehot"):
        result = Probe(mode=mode, random_state=0).compute(model, data)
        np.testing.assert_array_equal(result.mean, 0.0)


def test_occlusion_on_linear_model_matches_closed_form():
    model, data, w = linear_problem()
    result = Probe(baseline="mean", random_state=0).compute(model, data)
    X = data.X.astype(np.float64)
    # Setting x_j to its mean adds w_j^2 * mean((x_j - mean_j)^2) = w_j^2 Var(x_j) to the MSE.
    expected = w**2 * X.var(axis=0)
    np.testing.assert_allclose(result.mean, expected, rtol=1e-4, atol=1e-5)
    assert (result.ci_low <= result.mean + 1e-9).all() and (
        result.mean <= result.ci_high + 1e-9
    ).all()


def test_onehot_probe_is_the_literal_answer():
    model, data, w = linear_problem()
    result = Probe(mode="onehot", baseline="zero").compute(model, data)
    # f(e_j) - f(0) = w_j for a linear model.
    np.testing.assert_allclose(result.mean, np.abs(w), rtol=1e-5, atol=1e-6)
    assert result.repeats is None and result.settings["scoring"] is None


def test_group_is_occluded_together():
    model, data, w = linear_problem()
    result = Probe(groups={"first_two": ["a0", "a1"]}, random_state=0).compute(model, data)
    assert result.features == ("first_two", "a2", "a3", "a4")
    X = data.X.astype(np.float64)
    centred = X[:, :2] - X[:, :2].mean(axis=0)
    assert result.mean[0] == pytest.approx(((centred @ w[:2]) ** 2).mean(), rel=1e-4)


def test_same_seed_same_bootstrap_other_seed_other(friedman):
    a = Probe(random_state=1, n_bootstrap=10).compute(friedman.model, friedman.data)
    b = Probe(random_state=1, n_bootstrap=10).compute(friedman.model, friedman.data)
    c = Probe(random_state=2, n_bootstrap=10).compute(friedman.model, friedman.data)
    np.testing.assert_array_equal(a.repeats, b.repeats)
    np.testing.assert_array_equal(a.mean, c.mean)  # occlusion itself is deterministic
    assert not np.allclose(a.repeats, c.repeats)


def test_classification_with_accuracy(three_classes):
    result = Probe(random_state=0).compute(
        three_classes.model, three_classes.data, scoring="accuracy"
    )
    assert result.settings["scoring"] == "accuracy"
    assert result.mean[:3].min() > result.mean[3:].max()


@pytest.mark.parametrize(
    "options,message",
    [
        ({"mode": "sweep"}, "mode='sweep' is not allowed"),
        ({"baseline": "max"}, "baseline='max'"),
        ({"n_bootstrap": 0}, "n_bootstrap=0 is not allowed"),
    ],
)
def test_options_are_validated(options, message):
    with pytest.raises(ValueError, match=message):
        Probe(**options)
