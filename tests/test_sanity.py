from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from importance_tasks.keras.randomized import cascade_steps, randomized_copy
from importance_tasks.methods import Permutation
from importance_tasks.result import Importance
from importance_tasks.sanity import judge, label_verdict, sanity_runs, with_verdict


class ColumnSpread:
    """A deliberately broken method: ranks columns by their spread, ignoring the model."""

    name: ClassVar[str] = "column_spread"
    needs_data: ClassVar[bool] = True
    uses_labels: ClassVar[bool] = False

    def compute(self, model, data, *, scoring="auto", progress=None) -> Importance:
        mean = data.X.std(axis=0).astype(np.float64)
        return Importance(
            method=self.name,
            features=data.feature_names,
            mean=mean,
            std=np.zeros_like(mean),
            ci_low=mean,
            ci_high=mean,
            repeats=None,
            groups={f: (f,) for f in data.feature_names},
            settings={},
            seconds=0.0,
        )


def _spread_data(friedman):
    from importance_tasks.data import EvalData

    data = friedman.data
    return EvalData(X=data.X * np.linspace(1, 2, 10), y=data.y, feature_names=data.feature_names)


def test_randomized_copy_changes_every_weight(friedman):
    copy = randomized_copy(friedman.model, seed=0)
    for old, new in zip(
        friedman.model.keras_model.get_weights(), copy.keras_model.get_weights(), strict=True
    ):
        assert old.shape == new.shape and not np.allclose(old, new)


def test_broken_method_is_flagged(friedman):
    broken = ColumnSpread()
    data = _spread_data(friedman)
    checked = sanity_check(broken, friedman.model, data, broken.compute(friedman.model, data))
    assert checked.diagnostics["sanity"]["passed"] is False
    assert checked.diagnostics["sanity"]["spearman"] == pytest.approx(1.0)


def test_permutation_passes(friedman):
    method = Permutation(n_repeats=3, random_state=0)
    result = method.compute(friedman.model, friedman.data)
    checked = sanity_check(method, friedman.model, friedman.data, result, seed=1)
    assert checked.diagnostics["sanity"]["passed"] is True
    np.testing.assert_array_equal(checked.mean, result.mean)


class LabelBlind:
    """A deliberately broken loss-based method: permutation importance against the model's
    own predictions instead of the labels, so it measures how far the output moves."""

    name: ClassVar[str] = "label_blind"
    needs_data: ClassVar[bool] = True
    uses_labels: ClassVar[bool] = True

    def compute(self, model, data, *, scoring="auto", progress=None) -> Importance:
        import dataclasses

        own = dataclasses.replace(data, y=model.predict(data.X)[:, 0])
        return dataclasses.replace(
            Permutation(n_repeats=3, random_state=0).compute(model, own), method=self.name
        )


def test_the_cascade_randomises_from_the_top_layer_down(friedman):
    steps = [top for top, _ in cascade_steps(friedman.model)]
    layers = [w for w in friedman.model.keras_model.layers if w.trainable_weights]
    assert steps[0] == 1 and steps[-1] == len(layers) and len(steps) <= 4
    top = randomized_copy(friedman.model, seed=0, top=1)
    kept = [w for w in top.keras_model.layers if w.trainable_weights]
    for old, new in zip(layers[:-1], kept[:-1], strict=True):
        for a, b in zip(old.get_weights(), new.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(layers[-1].get_weights(), kept[-1].get_weights(), strict=True):
        assert not np.allclose(a, b)
    # Every layer at the last step: the same copy as the full randomisation.
    full, last = (
        randomized_copy(friedman.model, seed=0),
        randomized_copy(friedman.model, seed=0, top=steps[-1]),
    )
    for a, b in zip(full.keras_model.get_weights(), last.keras_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_verdict_records_every_cascade_step_and_the_label_check(friedman):
    method = Permutation(n_repeats=3, random_state=0)
    result = method.compute(friedman.model, friedman.data)
    sanity = sanity_check(method, friedman.model, friedman.data, result, seed=1)
    found = sanity.diagnostics["sanity"]
    steps = cascade_steps(friedman.model)
    assert [s["layers"] for s in found["cascade"]] == [top for top, _ in steps]
    assert [tuple(s["names"]) for s in found["cascade"]] == [names for _, names in steps]
    assert found["spearman"] == found["cascade"][-1]["spearman"]
    # Shuffled labels: Friedman's loss increases vanish (the model cannot fit random labels).
    assert found["labels"]["passed"] is True and found["labels"]["ratio"] < 0.2


def test_a_loss_based_method_blind_to_the_labels_fails_the_label_check(friedman):
    method = LabelBlind()
    result = method.compute(friedman.model, friedman.data)
    found = sanity_check(method, friedman.model, friedman.data, result)
    verdict = found.diagnostics["sanity"]
    assert verdict["labels"]["passed"] is False and verdict["labels"]["ratio"] > 0.9
    assert verdict["passed"] is False and "labels are shuffled" in verdict["reason"]


def test_label_verdict_known_answers():
    def result(values):
        mean = np.asarray(values, dtype=np.float64)
        return Importance(
            method="m", features=("a", "b"), mean=mean, std=mean * 0, ci_low=mean,
            ci_high=mean, repeats=None, groups={"a": ("a",), "b": ("b",)}, settings={},
            seconds=0.0,
        )  # fmt: skip

    # Negative importance on shuffled labels (a smaller output spread) keeps nothing.
    assert label_verdict(result([2.0, 1.0]), result([-1.5, -0.5]))["ratio"] == 0.0
    assert label_verdict(result([2.0, 1.0]), result([1.5, -0.5]))["ratio"] == pytest.approx(0.5)
    assert label_verdict(result([0.0, 0.0]), result([0.0, 0.0]))["passed"] is False


def sanity_check(method, model, data, result, *, seed=0):
    """``result`` with the verdict of ``method``'s sanity runs, as ``runner.finish`` sets it."""
    return with_verdict(result, judge(result, sanity_runs(method, model, data, seed=seed)))
