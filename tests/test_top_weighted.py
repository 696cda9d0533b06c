"""Rank-biased overlap and nDCG@k on known answers."""

from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.ranking.comparison import compare
from importance_tasks.ranking.top_weighted import ndcg_at_k, rbo


def _rbo_by_definition(first, second, p):
    """Webber et al. eq. 32 at depth k = n, written from the sets at each depth."""
    n = len(first)
    overlaps = [len(set(first[:d]) & set(second[:d])) for d in range(1, n + 1)]
    return overlaps[-1] / n * p**n + (1 - p) / p * sum(
        overlaps[d - 1] / d * p**d for d in range(1, n + 1)
    )


def test_rbo_of_identical_rankings_is_one_and_of_a_swapped_pair_is_known():
    assert rbo(list("abcde"), list("abcde")) == pytest.approx(1.0)
    # Depth 1 shares nothing, depth 2 everything: (1 - p) * p * 1 + p^2 = p for n = 2.
    assert rbo(["a", "b"], ["b", "a"], p=0.9) == pytest.approx(0.9)
    # a b c against b a c, p = 0.5: 0.5 * (0 + 0.5 + 0.25) + 0.125.
    assert rbo(list("abc"), list("bac"), p=0.5) == pytest.approx(0.5)


def test_rbo_equals_its_definition_on_random_rankings():
    rng = np.random.default_rng(0)
    items = [f"f{i}" for i in range(30)]
    for _ in range(20):
        a, b = list(rng.permutation(items)), list(rng.permutation(items))
        p = float(rng.uniform(0.5, 0.98))
        assert rbo(a, b, p=p) == pytest.approx(_rbo_by_definition(a, b, p))


def test_rbo_weighs_a_swap_at_the_top_more_than_one_at_the_bottom():
    items = [f"f{i}" for i in range(20)]
    top = items[:]
    top[0], top[1] = top[1], top[0]
    bottom = items[:]
    bottom[-1], bottom[-2] = bottom[-2], bottom[-1]
    assert rbo(items, top) < rbo(items, bottom) < 1.0


def test_rbo_refuses_different_items():
    with pytest.raises(ValueError, match="same distinct items"):
        rbo(["a", "b"], ["a", "c"])


def test_ndcg_is_one_for_the_same_top_k_and_zero_when_none_of_it_stays():
    previous = {f: r for r, f in enumerate("abcdefgh", start=1)}
    assert ndcg_at_k(previous, previous, k=3) == pytest.approx(1.0)
    moved = {f: r for r, f in enumerate("defabcgh", start=1)}
    assert ndcg_at_k(previous, moved, k=3) == 0.0
    # Below the top k nothing counts.
    tail = {f: r for r, f in enumerate("abcdefhg", start=1)}
    assert ndcg_at_k(previous, tail, k=3) == pytest.approx(1.0)


def test_ndcg_of_a_swapped_top_pair_is_the_textbook_value():
    previous = {"a": 1, "b": 2, "c": 3}
    current = {"b": 1, "a": 2, "c": 3}
    # k = 2: relevance a = 2, b = 1; DCG = 1 + 2 / log2(3), ideal = 2 + 1 / log2(3).
    expected = (1 + 2 / np.log2(3)) / (2 + 1 / np.log2(3))
    assert ndcg_at_k(previous, current, k=2) == pytest.approx(expected)


def test_ndcg_shares_the_gain_of_features_tied_in_the_current_ranking():
    previous = {"a": 1, "b": 2, "c": 3}
    tied = {"a": 1, "b": 1, "c": 3}
    # k = 2: a and b share positions 1 and 2, each gaining the mean of their discounts; the
    # ranking that keeps a ahead of b (1.0) is not claimed, nor the one that swaps them.
    swapped = ndcg_at_k(previous, {"b": 1, "a": 2, "c": 3}, k=2)
    assert swapped < ndcg_at_k(previous, tied, k=2) < 1.0
    shared = (2 + 1) * (1 + 1 / np.log2(3)) / 2 / (2 + 1 / np.log2(3))
    assert ndcg_at_k(previous, tied, k=2) == pytest.approx(shared)


def test_compare_flags_drift_below_the_threshold():
    previous = {f: r for r, f in enumerate("abcdefgh", start=1)}
    same = compare(previous, previous, k=3, threshold=0.9)
    assert same.ndcg == pytest.approx(1.0) and not same.drifted
    moved = compare(previous, {f: r for r, f in enumerate("cbadefgh", start=1)}, k=3)
    assert moved.ndcg < 0.9 and moved.drifted
    assert type(moved).from_record(moved.to_record()).to_record() == moved.to_record()
