"""Known answers for the statistical layer, each worked out by hand from its definition, so
that a small slip in the code (a dropped tie correction, another tie rule, another confidence
level, a wrong standard error) fails a test."""

from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.methods._common import t_interval
from importance_tasks.ranking.ranks import agreement, consensus
from importance_tasks.ranking.uncertainty import intervals_of
from tests.conftest import point_result


def test_kendalls_w_corrects_for_ties():
    """Ranks [1, 2, 3] and [1.5, 1.5, 3] (a tie): rank sums 2.5, 3.5, 6 around their mean 4,
    S = 2.25 + 0.25 + 4 = 6.5; the tie term of the second method is 2**3 - 2 = 6, so
    W = 12 S / (m**2 (n**3 - n) - m * 6) = 78 / (96 - 12) = 13/14 (78/96 without the correction)."""
    found = agreement([point_result("a", [3, 2, 1]), point_result("b", [2, 2, 1])])
    assert found.kendall_w == pytest.approx(13 / 14, abs=1e-12)


def test_consensus_gives_tied_features_their_average_rank():
    """Method a ties f0 and f1 (ranks 1.5, 1.5, 3), method b ranks them 3, 1, 2: mean ranks
    2.25, 1.25, 2.5 (the lowest rank for ties would give 2, 1, 2.5)."""
    found = consensus([point_result("a", [1, 1, 0]), point_result("b", [0.5, 1, 0.9])])
    np.testing.assert_allclose(found.mean_rank, [2.25, 1.25, 2.5], atol=1e-12)


def test_rank_intervals_hold_95_percent_of_the_draws():
    """1,000 draws spread evenly over ranks 1..20 (50 each): the 2.5% quantile falls in the
    first 50 (rank 1) and the 97.5% quantile in the last 50 (rank 20); an 80% interval would
    be 3-18."""
    draws = np.repeat(np.arange(1, 21, dtype=np.float64), 50)[:, None]
    found = intervals_of(draws, np.array([10]), ("f0",), k=5)
    assert (int(found.low[0]), int(found.high[0])) == (1, 20)
    assert found.p_top[0] == pytest.approx(0.25)


def test_the_t_interval_of_five_repeats():
    """Repeats 1..5: mean 3, sample sd sqrt(2.5), standard error sqrt(2.5 / 5) = sqrt(0.5);
    t(0.975, 4 degrees of freedom) = 2.7764451052 (tables), half-width 1.9632432."""
    repeats = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    low, high = t_interval(repeats.mean(axis=1), repeats)
    half = 2.7764451052 * np.sqrt(0.5)
    assert low[0] == pytest.approx(3 - half, abs=1e-8)
    assert high[0] == pytest.approx(3 + half, abs=1e-8)
