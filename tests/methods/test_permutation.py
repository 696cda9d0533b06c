from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.data import EvalData
from importance_tasks.keras import KerasModel
from importance_tasks.methods import Permutation
from tests.conftest import dense_model, linear_problem
from tests.precision import assert_within, importance_atol


def test_friedman_signal_features_rank_above_noise(friedman):
    result = Permutation(n_repeats=5, random_state=0).compute(friedman.model, friedman.data)
    assert result.features == friedman.data.feature_names
    assert result.mean[:5].min() > result.mean[5:].max()
    assert set(result.rank[:5]) == {1, 2, 3, 4, 5}
    assert result.settings["scoring"] == "mse"


def test_constant_model_gets_zero_importance():
    model = KerasModel(dense_model([np.zeros((4, 1))], [np.array([2.5])]))
    rng = np.random.default_rng(1)
    data = EvalData(
        X=rng.normal(size=(300, 4)), y=rng.normal(size=300), feature_names=tuple("abcd")
    )
    result = Permutation(n_repeats=3, random_state=0).compute(model, data)
    np.testing.assert_array_equal(result.mean, 0.0)
    np.testing.assert_array_equal(result.std, 0.0)


def test_linear_model_matches_closed_form():
    model, data, w = linear_problem()
    result = Permutation(n_repeats=30, random_state=0).compute(model, data)
    # y = f(x) exactly, so shuffling x_j adds w_j^2 * mean((x_j - x_j[perm])^2) to the MSE,
    # whose expectation over permutations is 2 * w_j^2 * Var(x_j).
    expected = 2 * w**2 * data.X.astype(np.float64).var(axis=0)
    np.testing.assert_allclose(result.mean, expected, rtol=0.06, atol=1e-5)
    assert result.mean[4] == pytest.approx(0.0, abs=1e-6)


def test_linear_model_each_repeat_is_exact():
    model, data, w = linear_problem(n_rows=500)
    permutations = np.stack([np.random.default_rng(s).permutation(500) for s in range(3)])
    result = Permutation(n_repeats=3, permutations=permutations).compute(model, data)
    X = data.X.astype(np.float64)
    for r, perm in enumerate(permutations):
        exact = w**2 * ((X - X[perm]) ** 2).mean(axis=0)
        np.testing.assert_allclose(result.repeats[:, r], exact, rtol=1e-4, atol=1e-5)


def _sklearn_permutations(seed: int, n_rows: int, n_repeats: int) -> np.ndarray:
    """The row permutations scikit-learn applies to every column, reproduced from its code."""
    random_state = np.random.RandomState(seed)
    column_seed = random_state.randint(np.iinfo(np.int32).max + 1)
    column_rng = np.random.RandomState(column_seed)
    shuffling, current, out = np.arange(n_rows), np.arange(n_rows), []
    for _ in range(n_repeats):
        column_rng.shuffle(shuffling)
        current = current[shuffling]
        out.append(current.copy())
    return np.stack(out)


def _wrap(model: KerasModel, *, classifier: bool = False):
    """The minimal scikit-learn wrapper people write around a Keras model."""
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

    class Regressor(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            return self

        def __sklearn_is_fitted__(self) -> bool:
            return True

        def predict(self, X):
            return model.predict(np.asarray(X, dtype=np.float32))[:, 0]

    class Classifier(ClassifierMixin, Regressor):
        classes_ = np.arange(3)

        def predict_proba(self, X):
            proba = model.predict(np.asarray(X, dtype=np.float32))
            return proba / proba.sum(axis=1, keepdims=True)

        def predict(self, X):
            return self.predict_proba(X).argmax(axis=1)

    return Classifier() if classifier else Regressor()


@pytest.mark.parametrize("scoring,sk_scoring", [("mse", "neg_mean_squared_error"), ("r2", "r2")])
def test_equals_sklearn_on_identical_permutations_regression(friedman, scoring, sk_scoring):
    from sklearn.inspection import permutation_importance

    n_repeats, seed = 4, 7
    data = friedman.data
    sk = permutation_importance(
        _wrap(friedman.model),
        data.X,
        data.y,
        scoring=sk_scoring,
        n_repeats=n_repeats,
        random_state=seed,
    )
    ours = Permutation(
        n_repeats=n_repeats, permutations=_sklearn_permutations(seed, data.n_rows, n_repeats)
    ).compute(friedman.model, data, scoring=scoring)
    # scikit-learn predicts each permuted copy alone; we stack copies: other batch shapes.
    atol = importance_atol(friedman.model, data.X, data.y, sk.importances, scoring=scoring)
    assert_within(ours.repeats, sk.importances, atol)
    assert_within(ours.mean, sk.importances_mean, atol.max(axis=1))
    assert_within(ours.std, sk.importances_std, atol.max(axis=1))  # std(d) <= max abs(d)


def test_equals_sklearn_on_identical_permutations_log_loss(three_classes):
    from sklearn.inspection import permutation_importance

    data = three_classes.data
    estimator = _wrap(three_classes.model, classifier=True)
    sk = permutation_importance(
        estimator, data.X, data.y, scoring="neg_log_loss", n_repeats=3, random_state=3
    )
    ours = Permutation(n_repeats=3, permutations=_sklearn_permutations(3, data.n_rows, 3)).compute(
        three_classes.model, data
    )
    assert ours.settings["scoring"] == "log_loss"
    atol = importance_atol(three_classes.model, data.X, data.y, sk.importances, scoring="log_loss")
    assert_within(ours.repeats, sk.importances, atol)


def test_one_hot_group_is_one_row_shuffled_together():
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 3, size=600)
    onehot = np.eye(3)[colour]
    other = rng.normal(size=(600, 2))
    X = np.column_stack([other[:, 0], onehot, other[:, 1]])
    names = ("size", "red", "green", "blue", "weight")
    w = np.array([1.0, 2.0, -1.0, 0.5, 0.3])
    model = KerasModel(dense_model([w[:, None]]))
    data = EvalData(X=X, y=model.predict(X.astype(np.float32))[:, 0], feature_names=names)
    groups = {"colour": ["red", "green", "blue"]}
    result = Permutation(n_repeats=2, random_state=5, groups=groups).compute(model, data)
    assert result.features == ("size", "colour", "weight")
    assert result.groups["colour"] == ("red", "green", "blue")
    perms = np.stack([np.random.default_rng(9).permutation(600) for _ in range(2)])
    explicit = Permutation(n_repeats=2, permutations=perms, groups=groups).compute(model, data)
    Xf = data.X.astype(np.float64)
    for r, perm in enumerate(perms):
        shuffled = Xf.copy()
        shuffled[:, 1:4] = Xf[perm, 1:4]  # the whole one-hot block moves with one permutation
        exact = (((shuffled - Xf) @ w) ** 2).mean()
        assert explicit.repeats[1, r] == pytest.approx(exact, rel=1e-4)


def test_same_seed_same_numbers_other_seed_other_numbers(friedman):
    a = Permutation(n_repeats=3, random_state=11).compute(friedman.model, friedman.data)
    b = Permutation(n_repeats=3, random_state=11).compute(friedman.model, friedman.data)
    c = Permutation(n_repeats=3, random_state=12).compute(friedman.model, friedman.data)
    np.testing.assert_array_equal(a.repeats, b.repeats)
    assert not np.allclose(a.repeats, c.repeats)
    assert a.settings["seed"] == 11


def test_batching_does_not_change_the_numbers(friedman):
    small = Permutation(n_repeats=2, random_state=0, max_batch_bytes=1).compute(
        friedman.model, friedman.data
    )
    large = Permutation(n_repeats=2, random_state=0).compute(friedman.model, friedman.data)
    data = friedman.data
    atol = importance_atol(friedman.model, data.X, data.y, large.repeats, scoring="mse")
    assert_within(small.repeats, large.repeats, atol)


def test_max_samples_takes_that_many_rows(friedman):
    data = friedman.data
    result = Permutation(n_repeats=2, random_state=0, max_samples=200).compute(friedman.model, data)
    assert result.settings["n_rows"] == 200


def test_sample_weights_give_the_exact_weighted_loss_increase():
    """On a linear model with y = f(x), shuffling x_j by a permutation raises the weighted MSE
    by sum_i w_i (w_j (x_ij - x_perm(i)j))^2 / sum_i w_i, exactly (the loss before is 0)."""
    model, data, w = linear_problem(n_rows=500)
    weight = np.random.default_rng(3).uniform(0.0, 4.0, size=500)
    weighted = EvalData(X=data.X, y=data.y, feature_names=data.feature_names, sample_weight=weight)
    permutations = np.stack([np.random.default_rng(s).permutation(500) for s in range(3)])
    result = Permutation(n_repeats=3, permutations=permutations).compute(model, weighted)
    X = data.X.astype(np.float64)
    for r, perm in enumerate(permutations):
        exact = (weight[:, None] * ((X - X[perm]) * w) ** 2).sum(axis=0) / weight.sum()
        np.testing.assert_allclose(result.repeats[:, r], exact, rtol=1e-4, atol=1e-5)
    unweighted = Permutation(n_repeats=3, permutations=permutations).compute(model, data)
    assert not np.allclose(result.repeats, unweighted.repeats, rtol=1e-3)


def test_interval_contains_mean_and_uses_repeats(friedman):
    result = Permutation(n_repeats=5, random_state=0).compute(friedman.model, friedman.data)
    assert (result.ci_low <= result.mean).all() and (result.mean <= result.ci_high).all()
    assert (result.ci_high - result.ci_low)[:5].min() > 0


@pytest.mark.parametrize(
    "options,message",
    [
        ({"n_repeats": 0}, "n_repeats=0 is not allowed; it must be an integer >= 1"),
        ({"max_samples": 1.5}, "max_samples above 1 is a count of rows, got 1.5"),
        ({"max_samples": 0}, "max_samples=0 is not allowed; it must be a number > 0"),
        ({"permutations": [[0, 1]]}, "permutations must have shape (n_repeats=5, n_rows)"),
        ({"random_state": -1}, "random_state must be >= 0"),
        ({"random_state": "x"}, "random_state must be an int"),
    ],
)
def test_options_are_validated(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Permutation(**options)


def test_unknown_group_column_is_an_error(friedman):
    with pytest.raises(ValueError, match="unknown columns"):
        Permutation(groups={"g": ["x0", "nope"]}).compute(friedman.model, friedman.data)
