"""Known answers for integrated gradients, SHAP, LIME and SAGE on real Keras models."""

from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.contract import MethodStatus
from importance_tasks.data import EvalData
from importance_tasks.errors import UnsupportedModelError
from importance_tasks.keras import KerasModel
from importance_tasks.methods import IntegratedGradients, make_method
from importance_tasks.methods.integrated_gradients import quadrature
from importance_tasks.model import CallableModel
from tests.conftest import cpu_load, dense_model, linear_problem
from tests.precision import assert_within, importance_atol, output_atol

FAITHFUL = ("conditional_permutation", "integrated_gradients", "shap", "lime", "sage")


@pytest.mark.parametrize("name", FAITHFUL)
def test_friedman_signal_features_rank_above_noise(friedman, name):
    result = make_method(name, random_state=0).compute(friedman.model, friedman.data)
    assert result.mean[:5].min() > result.mean[5:].max()


@pytest.mark.parametrize("name", FAITHFUL)
def test_informative_classification_features_rank_first(three_classes, name):
    result = make_method(name, random_state=0).compute(three_classes.model, three_classes.data)
    assert result.mean[:3].min() > result.mean[3:].max()


@pytest.mark.parametrize("name", FAITHFUL)
def test_constant_model_gets_zero_importance(name):
    model = KerasModel(dense_model([np.zeros((4, 1))], [np.array([0.7])]))
    rng = np.random.default_rng(0)
    data = EvalData(
        X=rng.normal(size=(120, 4)), y=rng.normal(size=120), feature_names=tuple("abcd")
    )
    result = make_method(name, random_state=0).compute(model, data)
    np.testing.assert_allclose(result.mean, 0.0, atol=1e-6)


@pytest.mark.parametrize("name", ("shap", "lime", "sage"))
def test_same_seed_identical_other_seed_different(friedman, name):
    a = make_method(name, random_state=4).compute(friedman.model, friedman.data)
    b = make_method(name, random_state=4).compute(friedman.model, friedman.data)
    c = make_method(name, random_state=5).compute(friedman.model, friedman.data)
    np.testing.assert_array_equal(a.mean, b.mean)
    assert not np.array_equal(a.mean, c.mean)


@pytest.mark.parametrize(
    ("name", "done"),
    [("shap", ("n_rows", 8)), ("lime", ("n_rows", 32)), ("sage", ("n_orderings", 64))],
)
def test_a_passed_guard_stops_after_one_step_and_says_incomplete(friedman, name, done):
    """A guard that has passed at once: one chunk of rows (or loop of orderings), a result
    over what was done, marked incomplete with the reason."""
    result = make_method(name, random_state=0, time_budget_s=1e-9).compute(
        friedman.model, friedman.data
    )
    key, count = done
    assert (
        result.status == MethodStatus.INCOMPLETE and "time_budget_s=1e-09" in result.status_reason
    )
    assert result.settings[key] == count and result.settings["time_budget_s"] == 1e-9
    assert np.isfinite(result.mean).all() and (result.ci_high >= result.ci_low).all()
    if name == "sage":
        assert result.settings["converged"] is False
    assert make_method(name, random_state=0).compute(friedman.model, friedman.data).status == (
        "complete"
    )


@pytest.mark.parametrize("name", ("shap", "sage", "lime"))
def test_the_work_is_decided_by_model_and_data_not_by_the_clock(friedman, name):
    """Under CPU load (two busy processes on this machine's cores) a method does the same
    work and gives the same numbers: rows and orderings are sized from the model's layers and
    the data, never timed. The same batch shapes on the same processor: equal up to the order
    of a threaded float32 sum (a relative 1e-5, some 80 float32 ulps, allows for it)."""
    quiet = make_method(name, random_state=3).compute(friedman.model, friedman.data)
    with cpu_load(2):
        loaded = make_method(name, random_state=3).compute(friedman.model, friedman.data)
    for key in ("n_rows", "n_orderings", "max_evals", "max_orderings"):
        assert quiet.settings.get(key) == loaded.settings.get(key)
    np.testing.assert_allclose(loaded.mean, quiet.mean, rtol=0, atol=1e-5 * quiet.mean.max())
    assert quiet.status == loaded.status == MethodStatus.COMPLETE


def test_shap_sizes_its_work_from_the_models_cost():
    """A model ten times as costly per row gets fewer orderings or rows, never more; the work
    (rows x evaluations x cost) stays about the same; too few rows is insufficient."""
    from importance_tasks.methods.shap import Shap

    rng = np.random.default_rng(0)
    data = EvalData(X=rng.normal(size=(500, 40)), y=rng.normal(size=500),
                    feature_names=tuple(f"x{i}" for i in range(40)))  # fmt: skip
    small = KerasModel(dense_model([rng.normal(size=(40, 16)), rng.normal(size=(16, 1))]))
    large = KerasModel(dense_model([rng.normal(size=(40, 2048)), rng.normal(size=(2048, 1))]))
    _, rows_small, evals_small = Shap().work(small, 500, 40)
    _, rows_large, evals_large = Shap().work(large, 500, 40)
    assert rows_large * evals_large < rows_small * evals_small
    few = Shap(max_samples=10, random_state=0).compute(small, data)
    assert few.status == MethodStatus.INSUFFICIENT and "10 rows" in few.status_reason


# The integral of x**2 over [0, 1] by each rule with n = 16 steps, from the rules' exact error
# terms: Gauss-Legendre is exact to degree 2n - 1; the midpoint rule falls short by 1/(12 n**2)
# (f'' h**2 / 24), the trapezoid rule overshoots by 1/(6 n**2) (f'' h**2 / 12).
KNOWN_X2 = {
    "gauss_legendre": 1 / 3,
    "riemann_middle": 1 / 3 - 1 / (12 * 16**2),
    "riemann_trapezoid": 1 / 3 + 1 / (6 * 16**2),
}


@pytest.mark.parametrize("rule", list(KNOWN_X2))
def test_quadrature_integrates_polynomials(rule):
    alphas, weights = quadrature(rule, 16)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert (weights * alphas**2).sum() == pytest.approx(KNOWN_X2[rule], abs=1e-12)
    if rule == "gauss_legendre":  # exact up to degree 31: the integral of x**31 is 1/32
        assert (weights * alphas**31).sum() == pytest.approx(1 / 32, abs=1e-12)


@pytest.mark.parametrize("baseline", ["zeros", "mean", "sample"])
def test_integrated_gradients_completeness_gap_is_small(friedman, three_classes, baseline):
    for trained in (friedman, three_classes):
        result = IntegratedGradients(baseline=baseline, random_state=0).compute(
            trained.model, trained.data
        )
        # Stated tolerance: the mean |sum of attributions - (f(x) - f(b))| is under 2% of
        # the mean |f(x) - f(b)| with 32 Gauss-Legendre steps on these ReLU networks.
        assert result.diagnostics["completeness_gap"] < 0.02


def test_integrated_gradients_on_a_linear_model_is_exact():
    model, data, w = linear_problem(n_rows=300)
    result = IntegratedGradients(baseline="mean", random_state=0).compute(model, data)
    X = data.X.astype(np.float64)
    expected = np.abs((X - X.mean(axis=0)) * w).mean(axis=0)
    np.testing.assert_allclose(result.mean, expected, rtol=1e-4, atol=1e-5)
    assert result.diagnostics["completeness_gap"] < 1e-5
    gxi = IntegratedGradients(kind="gradient_x_input", baseline="mean").compute(model, data)
    np.testing.assert_allclose(gxi.mean, expected, rtol=1e-4, atol=1e-5)


def test_smoothgrad_runs_and_keeps_the_ranking(friedman):
    result = IntegratedGradients(smoothgrad_samples=4, random_state=0, max_samples=200).compute(
        friedman.model, friedman.data
    )
    assert result.mean[:5].min() > result.mean[5:].max()


def test_gradient_methods_need_keras(friedman):
    model = CallableModel(friedman.model.predict, n_features=10)
    with pytest.raises(UnsupportedModelError, match="needs a Keras model"):
        IntegratedGradients().compute(model, friedman.data)


def test_groups_are_one_row(friedman):
    groups = {"noise": [f"x{i}" for i in range(5, 10)]}
    for name in FAITHFUL:
        result = make_method(name, random_state=0, groups=groups).compute(
            friedman.model, friedman.data
        )
        assert result.features == ("x0", "x1", "x2", "x3", "x4", "noise"), name


@pytest.mark.parametrize("name", ("integrated_gradients", "shap", "lime"))
def test_classifier_attributions_also_per_class(three_classes, name):
    result = make_method(name, random_state=0).compute(three_classes.model, three_classes.data)
    per_class = result.diagnostics["per_class"]
    assert set(per_class) == {"0", "1", "2"}
    labels = three_classes.data.y
    explained = np.bincount(labels, minlength=3) if name == "integrated_gradients" else None
    for values in per_class.values():
        assert len(values) == 8 and max(values[:3]) > max(values[3:])
    if explained is not None:  # all rows explained: the overall mean weights the class means
        weighted = sum(np.array(per_class[str(c)]) * explained[c] for c in range(3))
        np.testing.assert_allclose(weighted / explained.sum(), result.mean, rtol=1e-9)


def test_regression_has_no_per_class(friedman):
    result = make_method("shap", random_state=0).compute(friedman.model, friedman.data)
    assert "per_class" not in result.diagnostics


@pytest.mark.parametrize(
    ("problem", "num_samples", "rows", "around_row"),
    [
        ("friedman", 400, 6, True),
        ("friedman", 5000, 15, True),
        ("three_classes", 3000, 13, True),
        ("three_classes", 400, 7, False),
    ],
)
def test_lime_equals_lime_itself(request, problem, num_samples, rows, around_row):
    """Our LIME gives lime's own weights (copies drawn around the row, ours by default, or
    around the data's mean, lime's default; every feature explained) for the same seed:
    regression and the true class of a classifier, over several forward blocks (5000 samples: 6
    rows per block) and a sample of the rows."""
    from lime.lime_tabular import LimeTabularExplainer

    from importance_tasks.methods import Lime
    from importance_tasks.methods._common import draw_sample

    trained = request.getfixturevalue(problem)
    # Both sides feed the model batches of one row's num_samples copies (lime calls predict
    # once per row), so the float32 forward pass is bitwise the same on any processor.
    data, model = trained.data, KerasModel(trained.model.keras_model, batch_rows=num_samples)
    ours = Lime(
        num_samples=num_samples,
        max_samples=rows,
        sample_around_instance=around_row,
        random_state=3,
    ).compute(model, data)
    classify = problem == "three_classes"
    explainer = LimeTabularExplainer(
        data.X.astype(np.float64),
        mode="classification" if classify else "regression",
        feature_names=list(data.feature_names),
        discretize_continuous=False,
        sample_around_instance=around_row,
        random_state=ours.settings["seed"],
    )
    sample = draw_sample(data, groups={}, seed=ours.settings["seed"], max_samples=rows)
    weights = np.zeros(sample.X.shape)
    for i, row in enumerate(sample.X.astype(np.float64)):
        label = int(sample.y[i]) if classify else 1
        explanation = explainer.explain_instance(
            row,
            (lambda X: model.predict(X.astype(np.float32)))
            if classify
            else (lambda X: model.predict(X.astype(np.float32)).sum(axis=1)),
            labels=(label,),
            num_features=len(data.feature_names),
            num_samples=num_samples,
        )
        local = explanation.as_map()
        for column, weight in local[label] if classify else next(iter(local.values())):
            weights[i, column] = weight
    assert ours.settings["n_rows"] == rows
    np.testing.assert_allclose(ours.mean, np.abs(weights).mean(axis=0), rtol=1e-7, atol=1e-10)


def test_weighted_ridge_equals_scikit_learn():
    from sklearn.linear_model import Ridge

    from importance_tasks.methods.lime import weighted_ridge

    rng = np.random.default_rng(4)
    X = rng.normal(loc=[0.0, 5.0, -3.0, 100.0], scale=[1.0, 0.1, 4.0, 2.0], size=(300, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(size=300)
    weight = rng.uniform(0.0, 2.0, size=300)
    expected = Ridge(alpha=1.0).fit(X, y, sample_weight=weight).coef_
    np.testing.assert_allclose(weighted_ridge(X, y, weight), expected, rtol=1e-8, atol=1e-12)


def _keras_predict(trained):
    """The model as a user hands it to shap or sage: Keras' own ``predict``."""
    return lambda X: trained.model.keras_model.predict(np.asarray(X, np.float32), verbose=0)


def test_shap_equals_shap_itself_for_the_same_seed(friedman):
    """Our batched use of shap's Permutation explainer gives what shap gives when called the
    usual way, on Keras' predict, with the same rows, background and seed."""
    import shap

    from importance_tasks.methods import Shap
    from importance_tasks.methods._common import draw_sample

    data = friedman.data
    ours = Shap(algorithm="permutation", max_samples=12, max_evals=63, random_state=5).compute(
        friedman.model, data
    )
    sample = draw_sample(data, groups={}, seed=5, max_samples=12)
    background = data.X[sample.rng.choice(data.n_rows, 100, False)]
    predict = _keras_predict(friedman)
    explainer = shap.explainers.Permutation(
        lambda X: predict(X)[:, 0], shap.maskers.Independent(background, 100), seed=5
    )
    theirs = explainer(sample.X, max_evals=63, silent=True).values
    # Keras' predict (batches of 32) against our traced forward on stacked copies: a SHAP value
    # is a difference of two mean outputs, so each moves by at most output_atol.
    atol = output_atol(friedman.model, data.X)
    assert_within(ours.mean, np.abs(theirs).mean(axis=0), atol)


def test_sage_equals_sage_itself_for_the_same_seed(friedman):
    """Our batched use of sage-importance's PermutationEstimator gives what it gives on Keras'
    predict, with the same rows, background, orderings and seed."""
    import sage

    from importance_tasks.methods import Sage
    from importance_tasks.methods._common import draw_sample

    data = friedman.data
    ours = Sage(n_permutations=64, max_samples=200, random_state=9).compute(friedman.model, data)
    sample = draw_sample(data, groups={}, seed=9, max_samples=200)
    background = data.X[sample.rng.choice(data.n_rows, 64, False)]
    predict = _keras_predict(friedman)
    imputer = sage.MarginalImputer(lambda X: predict(X)[:, 0], background)
    theirs = sage.PermutationEstimator(imputer, "mse", random_state=9)(
        sample.X, sample.y.astype(np.float64), batch_size=64, n_permutations=64, bar=False
    )
    # A SAGE value is a mean of differences of two mse losses: as a permutation importance.
    atol = importance_atol(friedman.model, data.X, data.y, theirs.values, scoring="mse")
    assert_within(ours.mean, theirs.values, atol)
    assert_within(ours.std, theirs.std, atol)
