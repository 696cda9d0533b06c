from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.ranking.comparison import compare
from importance_tasks.ranking.ranks import agreement, consensus, rank_descending
from importance_tasks.result import Importance
from tests.conftest import point_result


def _result(method: str, values: list[float], features=("a", "b", "c", "d")) -> Importance:
    return point_result(method, values, features)


def test_ranks_ties_share_the_best_rank_and_nan_comes_last():
    np.testing.assert_array_equal(
        rank_descending(np.array([0.1, 0.5, 0.5, np.nan, 0.0])), [3, 1, 1, 5, 4]
    )


def test_consensus_is_mean_rank_with_ties():
    result = consensus([_result("p", [4, 3, 2, 1]), _result("q", [3, 4, 1, 2])])
    np.testing.assert_allclose(result.mean_rank, [1.5, 1.5, 3.5, 3.5])
    np.testing.assert_array_equal(result.rank, [1, 1, 3, 3])
    assert result.ranks() == {"a": 1, "b": 1, "c": 3, "d": 3}
    assert result.as_dict()["shown_rank"] == result.ranks()  # no noise: nothing tied by chance


def test_consensus_refuses_different_features():
    with pytest.raises(ValueError, match="group features the same way"):
        consensus([_result("p", [1, 2, 3, 4]), _result("q", [1, 2], features=("a", "b"))])


def test_result_checks_shapes():
    with pytest.raises(ValueError, match=r"mean must have shape \(4,\)"):
        _result("p", [1, 2])


def test_kendall_w_is_one_for_identical_and_low_for_reversed_rankings():
    same = agreement([_result("p", [4, 3, 2, 1]), _result("q", [8, 6, 4, 2])])
    assert same.kendall_w == pytest.approx(1.0)
    assert same.spearman == {"p~q": pytest.approx(1.0)}
    np.testing.assert_array_equal(same.spread, 0.0)
    reversed_ = agreement([_result("p", [4, 3, 2, 1]), _result("q", [1, 2, 3, 4])])
    assert reversed_.kendall_w == pytest.approx(0.0)
    assert reversed_.spearman["p~q"] == pytest.approx(-1.0)


def test_kendall_w_matches_the_textbook_formula_with_three_methods():
    results = [_result("a", [4, 3, 2, 1]), _result("b", [3, 4, 2, 1]), _result("c", [4, 2, 3, 1])]
    ranks = np.array([[1, 2, 3, 4], [2, 1, 3, 4], [1, 3, 2, 4]], dtype=float)
    totals = ranks.sum(axis=0)
    expected = 12 * ((totals - totals.mean()) ** 2).sum() / (3**2 * (4**3 - 4))
    assert agreement(results).kendall_w == pytest.approx(expected)


def test_compare_reports_correlations_and_movers():
    comparison = compare({"a": 1, "b": 2, "c": 3, "gone": 4}, {"c": 1, "a": 2, "b": 3, "new": 4})
    assert comparison.features == ("c", "a", "b")
    assert comparison.added == ("new",) and comparison.removed == ("gone",)
    assert comparison.movers(2) == [("c", 2), ("a", -1)]
    assert comparison.spearman == pytest.approx(-0.5)
    identical = compare({"a": 1, "b": 2}, {"a": 1, "b": 2})
    assert identical.spearman == pytest.approx(1.0) and identical.movers() == []


def test_negligible_needs_every_counted_method_and_judges_each_by_its_kind():
    import dataclasses

    from importance_tasks.ranking.negligible import negligible

    shap = point_result("shap", [1.0, 0.5, 0.04, 0.06])  # f2 under 5% of the top, f3 above
    lime = point_result("lime", [1.0, 0.5, 0.01, 0.01])
    assert negligible([shap, lime], counted=("shap", "lime"), loss_based=()) == ("f2",)
    assert negligible([shap, lime], counted=("lime",), loss_based=()) == ("f2", "f3")
    # A loss-based method with an interval: one that holds 0 is negligible, at any size.
    perm = dataclasses.replace(
        point_result("permutation", [1.0, 0.3, 0.2, 0.1]),
        ci_low=np.array([0.9, 0.2, -0.1, 0.05]),
        ci_high=np.array([1.1, 0.4, 0.5, 0.15]),
    )
    assert negligible([perm], counted=("permutation",), loss_based=("permutation",)) == ("f2",)
    # Without an interval (a point: no randomness) only the share judges it.
    point = point_result("probe", [1.0, 0.0, -0.01, 0.2])
    assert negligible([point], counted=("probe",), loss_based=("probe",)) == ("f1", "f2")
    # A constant model: nothing is used.
    zero = point_result("shap", [0.0, 0.0])
    assert negligible([zero], counted=("shap",), loss_based=()) == ("f0", "f1")
    assert negligible([zero], counted=(), loss_based=()) == ()


def test_a_result_that_is_not_complete_is_left_out_of_the_consensus():
    import dataclasses

    from importance_tasks.ranking.ranks import NoCompleteMethodError

    a = point_result("permutation", [3.0, 2.0, 1.0])
    b = dataclasses.replace(
        point_result("shap", [1.0, 2.0, 3.0]), status="insufficient", status_reason="5 rows"
    )
    combined = consensus([a, b])
    assert combined.methods == ("permutation",)
    assert combined.excluded == {"shap": "insufficient: 5 rows"}
    with pytest.raises(NoCompleteMethodError, match="shap: insufficient: 5 rows"):
        consensus([b])
