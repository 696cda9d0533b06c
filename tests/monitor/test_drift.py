"""The drift test's core: Holm's procedure, the flag rule (beyond both estimates' noise and
material), and the two-sample tests of the columns."""

from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.data import EvalData
from importance_tasks.monitor.drift import flagged, holm, moved_columns
from importance_tasks.monitor.estimates import Estimate

FEATURES = ("a", "b", "c", "d")


def _estimate(mean, se, *, df: int = 9, features=FEATURES) -> Estimate:
    return Estimate(
        method="permutation",
        features=features,
        mean=np.asarray(mean, dtype=np.float64),
        se=np.asarray(se, dtype=np.float64),
        df=df,
        groups={f: (f,) for f in features},
        n_rows=1000,
    )


def test_holm_adjusts_step_down_and_keeps_the_order_monotone():
    # Hand-computed: sorted p 0.01, 0.02, 0.03, 0.5 times 4, 3, 2, 1 -> 0.04, 0.06, 0.06, 0.5.
    adjusted = holm([0.03, 0.01, 0.5, 0.02])
    np.testing.assert_allclose(adjusted, [0.06, 0.04, 0.5, 0.06])
    assert holm([0.9, 0.9]).max() == 1.0  # capped at 1 (0.9 x 2 would be 1.8)


def test_a_change_beyond_the_noise_and_material_is_flagged_and_nothing_else():
    base = _estimate([1.0, 1.0, 0.5, 0.01], [0.01] * 4)
    # a: far beyond noise and 1/2.51 of the total; b: within noise; c: beyond noise but
    # 0.02 of a total of 2.51 (below 5%); d: a noise feature tripling, still immaterial.
    window = _estimate([0.0, 1.01, 0.45, 0.03], [0.01] * 4)
    flags = flagged({"permutation": base}, {"permutation": window})
    assert [f.feature for f in flags] == ["a"]
    assert flags[0].share == pytest.approx(-1.0 / 2.51)
    assert "fell from 1 to 0" in flags[0].reason(moved=False)
    assert "use of it changed" in flags[0].reason(moved=False)
    assert "input distribution moved" in flags[0].reason(moved=True)


def test_a_large_change_inside_wide_intervals_is_not_flagged():
    base = _estimate([1.0, 1.0, 1.0, 1.0], [0.3] * 4)
    window = _estimate([1.5, 1.0, 1.0, 1.0], [0.3] * 4)
    assert flagged({"permutation": base}, {"permutation": window}) == []
    # The same change with tight estimates is flagged: the test reads the standard errors.
    tight = flagged({"permutation": _estimate(base.mean, [0.01] * 4)},
                    {"permutation": _estimate(window.mean, [0.01] * 4)})  # fmt: skip
    assert [f.feature for f in tight] == ["a"]


def test_holm_over_features_keeps_a_borderline_change_among_many_unflagged():
    # Unadjusted, a's p-value is about 0.02 (t = 2.5 with 1000 degrees of freedom): below
    # 0.05, but not below 0.05 / 4 as Holm asks of the smallest of four.
    base = _estimate([1.0, 1.0, 1.0, 1.0], [0.1 / np.sqrt(2)] * 4, df=1000)
    window = _estimate([1.25, 1.0, 1.0, 1.0], [0.1 / np.sqrt(2)] * 4, df=1000)
    assert flagged({"permutation": base}, {"permutation": window}, materiality=0.0) == []
    # Tested alone, the same change is flagged.
    se = [0.1 / np.sqrt(2)]
    alone = flagged(
        {"permutation": _estimate([1.0], se, df=1000, features=("a",))},
        {"permutation": _estimate([1.25], se, df=1000, features=("a",))},
        materiality=0.0,
    )
    assert [f.feature for f in alone] == ["a"]


def _data(columns: dict[str, np.ndarray], categories=None) -> EvalData:
    X = np.column_stack(list(columns.values()))
    return EvalData(
        X=X, y=np.zeros((len(X), 0)), feature_names=tuple(columns), categories=categories or {}
    )


def test_moved_columns_finds_a_shift_inside_the_range_and_not_a_resample():
    rng = np.random.default_rng(0)
    base = _data({"u": rng.uniform(size=5000), "v": rng.uniform(size=5000)})
    same = _data({"u": rng.uniform(size=5000), "v": rng.uniform(size=5000)})
    assert moved_columns(base, same) == {}
    inside = _data({"u": rng.uniform(size=5000), "v": rng.beta(2, 1, size=5000)})
    moved = moved_columns(base, inside)
    assert list(moved) == ["v"] and moved["v"] < 1e-6


def test_moved_columns_compares_coded_columns_by_their_values():
    rng = np.random.default_rng(1)
    # The same values coded in another order in the window: not a move.
    base = _data({"s": rng.integers(0, 3, 3000).astype(float)},
                 {"s": np.array(["x", "y", "z"])})  # fmt: skip
    codes = rng.integers(0, 3, 3000)
    recoded = _data({"s": codes.astype(float)}, {"s": np.array(["z", "y", "x"])})
    assert moved_columns(base, recoded) == {}
    skewed = _data({"s": (rng.uniform(size=3000) < 0.8).astype(float)},
                   {"s": np.array(["x", "y"])})  # fmt: skip
    assert list(moved_columns(base, skewed)) == ["s"]
