"""Dependence measures and clusters on known answers."""

from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.dependence import dependence
from importance_tasks.errors import InputError


def _data(n: int = 3000):
    rng = np.random.default_rng(0)
    a = rng.normal(size=n)
    c2 = rng.integers(0, 4, size=n)
    return np.column_stack(
        [
            a,
            np.exp(a),  # a monotone function of a: Spearman 1
            rng.normal(size=n),  # independent
            c2,  # a category
            c2,  # the same categories: Cramér's V 1
            c2 * 2.0 + 0.01 * rng.normal(size=n),  # numbers fixed by the category: eta ~1
        ]
    ).astype(np.float32)


def test_measures_on_known_answers():
    X = _data()
    names = ("a", "exp_a", "free", "cat", "cat_copy", "by_cat")
    found = dependence(X, names, categorical=np.array([0, 0, 0, 1, 1, 0], bool))
    m = found.matrix
    assert m[0, 1] == pytest.approx(1.0)
    assert m[0, 2] < 0.05 and m[2, 3] < 0.05
    assert m[3, 4] == pytest.approx(1.0) and found.measures[3, 4] == "cramers_v"
    # Ranks of numbers ordered by 4 equal-sized categories: between-category share of the
    # rank variance is 1 - 1/4**2, so eta = sqrt(15/16).
    assert m[3, 5] == pytest.approx(np.sqrt(15 / 16), abs=0.01) and found.measures[3, 5] == "eta"
    assert np.allclose(m, m.T) and np.all(np.diag(m) == 1.0)
    assert found.clusters == (("a", "exp_a"), ("cat", "cat_copy", "by_cat"))
    assert found.partners("exp_a") == ("a",) and found.cluster_of("free") == ("free",)
    assert sorted(found.order) == list(range(6))


def test_threshold_decides_what_clusters():
    rng = np.random.default_rng(1)
    a = rng.normal(size=5000)
    b = a + rng.normal(size=5000)  # Spearman about 0.69
    X = np.column_stack([a, b]).astype(np.float32)
    assert dependence(X, ("a", "b"), threshold=0.6).clusters == (("a", "b"),)
    assert dependence(X, ("a", "b"), threshold=0.8).clusters == ()


def test_constant_columns_and_bad_thresholds():
    from importance_tasks.config import AnalysisConfig
    from importance_tasks.methods import make_method

    X = np.column_stack([np.ones(100), np.arange(100.0)]).astype(np.float32)
    assert dependence(X, ("one", "n")).matrix[0, 1] == 0.0
    # One declaration (THRESHOLD_SCHEMA) checks the setting and the method's option alike.
    for bad in (0.0, 1.5):
        with pytest.raises(InputError, match=rf"cluster_threshold={bad} is not allowed"):
            AnalysisConfig(cluster_threshold=bad)
        with pytest.raises(InputError, match=rf"cluster_threshold={bad} is not allowed"):
            make_method("conditional_permutation", cluster_threshold=bad)
