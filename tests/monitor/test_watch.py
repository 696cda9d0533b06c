"""Known answers of the label-free monitor on real Keras models: windows from the evaluation
data's distribution flag nothing; a held-constant informative feature is flagged (and only
informative ones); a noise feature moved inside its range is data drift, not importance drift;
a softmax head's predicted class is explained; a window with labels is analysed by loss too."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_friedman1

from importance_tasks.config import AnalysisConfig
from importance_tasks.data import EvalData
from importance_tasks.monitor.labels import Mode, labelled_by_model
from importance_tasks.monitor.watch import estimates, watch
from tests.conftest import FRIEDMAN_FEATURES

CONFIG = AnalysisConfig.from_settings({"methods": ["permutation"]})
INFORMATIVE = {"x0", "x1", "x2", "x3", "x4"}


def _window(seed: int, n_rows: int = 5000) -> EvalData:
    X, _ = make_friedman1(n_samples=n_rows, n_features=10, random_state=seed)
    return _unlabelled(X)


def _unlabelled(X: np.ndarray) -> EvalData:
    return EvalData(X=X, y=np.zeros((len(X), 0)), feature_names=FRIEDMAN_FEATURES)


@pytest.fixture(scope="module")
def baseline(friedman):
    return estimates(friedman.model, friedman.data, CONFIG, mode=Mode.OUTPUT)


def test_the_explained_output_is_the_prediction_and_its_change(friedman, three_classes):
    labelled, scoring = labelled_by_model(friedman.model, _window(3, 200))
    assert scoring == "mae"
    np.testing.assert_allclose(labelled.y, friedman.model.predict(labelled.X)[:, 0])
    labelled, scoring = labelled_by_model(three_classes.model, three_classes.data)
    assert scoring == "class_probability"
    np.testing.assert_array_equal(
        labelled.y, three_classes.model.predict(three_classes.data.X).argmax(axis=1)
    )


def test_label_free_importance_finds_friedman_drivers_and_the_classifiers(baseline, three_classes):
    top = {baseline.first.features[i] for i in np.argsort(-baseline.first.mean)[:5]}
    assert top == INFORMATIVE
    # Standard errors from blocks of rows: positive, and small against the drivers.
    assert (baseline.first.se > 0).all() and baseline.first.df == 9
    found = estimates(three_classes.model, three_classes.data, CONFIG, mode=Mode.OUTPUT).first
    assert {found.features[i] for i in np.argsort(-found.mean)[:3]} == {"f0", "f1", "f2"}


def test_windows_from_the_same_distribution_raise_no_flag(friedman, baseline):
    for seed in (11, 12, 13):
        window = _window(seed)
        found = watch(
            baseline, friedman.data, estimates(friedman.model, window, CONFIG, mode=Mode.OUTPUT),
            window, k=5,
        )  # fmt: skip
        assert found.flags == (), [f.reason(moved=False) for f in found.flags]
        assert found.ndcg > 0.9


def test_a_held_constant_driver_is_flagged_with_its_data(friedman, baseline):
    X, _ = make_friedman1(n_samples=5000, n_features=10, random_state=21)
    X[:, 0] = 0.5
    window = _unlabelled(X)
    found = watch(
        baseline, friedman.data, estimates(friedman.model, window, CONFIG, mode=Mode.OUTPUT),
        window, k=5,
    )  # fmt: skip
    flagged = {f.feature for f in found.flags}
    assert "x0" in flagged and flagged <= INFORMATIVE
    x0 = next(f for f in found.flags if f.feature == "x0")
    assert abs(x0.window) < 1e-6 and x0.share < 0  # float32 rounding of the shortcut
    assert found.data_drift == ("x0",)
    assert found.record()["drifted"][0]["input_moved"] is True


def test_a_noise_feature_moved_inside_its_range_is_data_drift_only(friedman, baseline):
    X, _ = make_friedman1(n_samples=5000, n_features=10, random_state=22)
    X[:, 7] = np.random.default_rng(0).beta(5, 1, len(X))
    window = _unlabelled(X)
    found = watch(
        baseline, friedman.data, estimates(friedman.model, window, CONFIG, mode=Mode.OUTPUT),
        window, k=5,
    )  # fmt: skip
    assert found.flags == ()
    assert found.data_drift == ("x7",)


def test_a_constant_model_has_zero_label_free_importance(friedman):
    from importance_tasks.keras import KerasModel
    from tests.conftest import dense_model

    constant = KerasModel(dense_model([np.zeros((10, 1))], [np.array([2.0])]))
    found = estimates(constant, friedman.data, CONFIG, mode=Mode.OUTPUT).first
    np.testing.assert_array_equal(found.mean, 0.0)
    np.testing.assert_array_equal(found.se, 0.0)


def test_a_labelled_window_is_analysed_by_loss_beside_the_output(friedman):
    found = estimates(friedman.model, friedman.data, CONFIG, mode=Mode.LOSS, scoring="mse")
    top = {found.first.features[i] for i in np.argsort(-found.first.mean)[:5]}
    assert top == INFORMATIVE


# Each method's label-free known answer on Friedman #1 at a small budget (its option names are
# its own): x0-x4 drive the prediction, x5-x9 do not.
SMALL = {
    "probe": {},
    "conditional_permutation": {"n_repeats": 2},
    "integrated_gradients": {"max_samples": 200},
    "shap": {"max_samples": 64},
    "lime": {"max_samples": 40, "num_samples": 500},
    "sage": {"max_samples": 200},
}


@pytest.mark.parametrize("method", sorted(SMALL))
def test_every_method_explains_the_prediction_without_labels(friedman, method):
    config = AnalysisConfig.from_settings(
        {"methods": [method], "method_options": {method: SMALL[method]}}
    )
    found = estimates(friedman.model, friedman.data, config, mode=Mode.OUTPUT).first
    top = {found.features[i] for i in np.argsort(-found.mean)[:5]}
    assert top == INFORMATIVE, dict(zip(found.features, found.mean.round(4), strict=True))
    assert (found.se >= 0).all() and np.isfinite(found.se).all()
