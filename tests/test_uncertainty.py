"""Rank intervals, top-k chances and ties on known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from importance_tasks.ranking.ranks import consensus
from importance_tasks.ranking.uncertainty import rank_intervals, tie_ranks
from importance_tasks.result import Importance

Z = 1.959963984540054


def _result(method, mean, sd=None, repeats=None, features=None, sanity=None):
    mean = np.asarray(mean, dtype=np.float64)
    features = features or tuple(f"f{i}" for i in range(len(mean)))
    sd = np.zeros_like(mean) if sd is None else np.asarray(sd, dtype=np.float64)
    return Importance(
        method=method,
        features=features,
        mean=mean,
        std=sd,
        ci_low=mean - Z * sd,
        ci_high=mean + Z * sd,
        repeats=repeats,
        groups={f: (f,) for f in features},
        settings={"seed": 0},
        seconds=0.0,
        diagnostics={"sanity": sanity} if sanity else {},
    )


def test_a_method_without_noise_has_point_intervals_and_no_ties():
    found = rank_intervals(_result("weights", [3.0, 2.0, 1.0]), k=1)
    assert found.low.tolist() == found.high.tolist() == [1, 2, 3]
    assert found.p_top.tolist() == [1.0, 0.0, 0.0]


def test_the_chance_of_ranking_first_matches_the_normal_answer():
    # Two features, means 1 and 1 + delta, each mean with standard error s: the first ranks
    # above the second with probability Phi(delta / (s * sqrt(2))).
    s, delta = 0.1, 0.1
    found = rank_intervals(_result("shap", [1.0 + delta, 1.0], sd=[s, s]), k=1, n_draws=4000)
    expected = norm.cdf(delta / (s * np.sqrt(2)))
    assert found.p_top[0] == pytest.approx(expected, abs=0.03)  # 4,000 draws: sd 0.007
    assert found.low.tolist() == [1, 1] and found.high.tolist() == [2, 2]


def test_repeats_are_resampled_and_a_feature_always_ahead_ranks_first_every_time():
    repeats = np.array(
        [[5.0, 6.0, 5.5, 6.5, 5.2], [1.0, 3.0, 2.0, 2.5, 1.5], [2.0, 1.0, 2.2, 1.8, 2.4]]
    )
    result = _result("permutation", repeats.mean(axis=1), repeats=repeats)
    found = rank_intervals(result, k=1)
    assert found.p_top[0] == 1.0 and found.low[0] == found.high[0] == 1
    assert found.low[1] == 2 and found.high[1] == 3  # the other two overlap


def test_tied_features_share_the_rank_of_their_group_first():
    rank = np.array([1, 2, 3, 4])
    low = np.array([1, 2, 2, 4])
    high = np.array([1, 3, 3, 4])
    assert tie_ranks(rank, low, high).tolist() == [1, 2, 2, 4]


def test_consensus_carries_every_method_noise_and_marks_ties():
    clear = _result("a", [3.0, 2.0, 1.0, 0.0])
    noisy = _result("b", [3.0, 2.01, 2.0, 0.0], sd=[0.01, 0.2, 0.2, 0.01])
    combined = consensus([clear, noisy], k=2)
    assert combined.rank.tolist() == [1, 2, 3, 4]
    assert combined.intervals.low[0] == combined.intervals.high[0] == 1
    assert combined.shown_rank.tolist() == [1, 2, 2, 4]  # f1 and f2: too close to call
    assert combined.tied.tolist() == [False, True, True, False]
    assert combined.method_intervals["a"].low.tolist() == [1, 2, 3, 4]
    again = type(combined).from_record(combined.to_record())
    assert again.shown_rank.tolist() == combined.shown_rank.tolist()
    assert again.intervals.p_top.tolist() == pytest.approx(combined.intervals.p_top.tolist())


def test_a_method_that_failed_its_sanity_check_is_left_out_unless_all_failed():
    good = _result("a", [3.0, 2.0, 1.0])
    bad = _result("b", [1.0, 2.0, 3.0], sanity={"passed": False, "reason": "no change"})
    combined = consensus([good, bad])
    assert combined.methods == ("a",)
    assert combined.rank.tolist() == [1, 2, 3]
    assert "no change" in combined.excluded["b"]
    alone = consensus([bad])
    assert alone.methods == ("b",) and "kept: every method failed" in alone.excluded["b"]
