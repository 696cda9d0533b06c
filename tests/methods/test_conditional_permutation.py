"""Conditional permutation importance on known answers: twins carrying one signal, and an
independent informative feature."""

from __future__ import annotations

import numpy as np

from importance_tasks.data import EvalData
from importance_tasks.keras import KerasModel
from importance_tasks.methods import ConditionalPermutation, Permutation
from importance_tasks.methods.conditional_permutation import _strata, _within
from tests.conftest import dense_model


def _twins(n_rows: int = 4000, seed: int = 0):
    """y = twin_a + twin_b + solo exactly (a linear Keras model); the twins are one signal
    plus a little noise each; noise is ignored."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n_rows)
    X = np.column_stack(
        [
            signal + 0.1 * rng.normal(size=n_rows),
            signal + 0.1 * rng.normal(size=n_rows),
            rng.normal(size=n_rows),
            rng.normal(size=n_rows),
        ]
    ).astype(np.float32)
    model = KerasModel(dense_model([np.array([[1.0], [1.0], [1.0], [0.0]])]))
    y = model.predict(X)[:, 0]
    return model, EvalData(X=X, y=y, feature_names=("twin_a", "twin_b", "solo", "noise"))


def test_twins_lose_what_they_share_and_the_solo_feature_keeps_its_importance():
    model, data = _twins()
    marginal = Permutation(random_state=0).compute(model, data)
    conditional = ConditionalPermutation(random_state=0).compute(model, data)
    assert conditional.diagnostics["clusters"] == [["twin_a", "twin_b"]]
    assert conditional.diagnostics["partners"]["twin_a"] == ["twin_b"]
    # Shuffling a twin among rows whose other twin is alike barely moves it: most of its
    # marginal importance (2 Var = 2) is what the pair shares.
    for twin in (0, 1):
        assert conditional.mean[twin] < 0.15 * marginal.mean[twin]
        assert conditional.mean[twin] > 0  # what the twin carries alone still counts
    # Without partners: the same permutations as marginal, so exactly the same numbers.
    assert conditional.mean[2] == marginal.mean[2]
    assert conditional.mean[3] == marginal.mean[3] == 0.0
    assert conditional.rank[2] == 1  # the solo feature ranks first once the twins share


def test_a_group_is_shuffled_within_strata_of_its_partners_outside_it():
    model, data = _twins()
    grouped = ConditionalPermutation(random_state=0, groups={"pair": ("twin_a", "twin_b")})
    result = grouped.compute(model, data)
    assert result.diagnostics["partners"]["pair"] == []  # the whole cluster: no partner left
    marginal = Permutation(random_state=0, groups={"pair": ("twin_a", "twin_b")})
    assert result.mean[0] == marginal.compute(model, data).mean[0]


def test_within_strata_permutations_stay_in_their_stratum():
    rng = np.random.default_rng(3)
    strata = rng.integers(0, 5, size=500)
    permutation = _within(strata, rng)
    assert sorted(permutation) == list(range(500))
    assert np.array_equal(strata[permutation], strata)


def test_strata_are_equal_frequency_bins_or_categories():
    from importance_tasks.dependence import dependence

    rng = np.random.default_rng(4)
    X = np.column_stack([rng.normal(size=1000), rng.integers(0, 3, size=1000)]).astype(np.float32)
    found = dependence(X, ("x", "c"))
    bins = _strata(X, found, ("x",), 10)
    assert np.bincount(bins).tolist() == [100] * 10
    categories = _strata(X, found, ("c",), 10)
    assert set(categories) == {0, 1, 2}
    assert np.array_equal(categories, X[:, 1].astype(int))


def test_clusters_are_ranked_as_groups_in_the_same_pass_as_the_features():
    model, data = _twins()
    plain = Permutation(random_state=0).compute(model, data)
    pair = {"twin_a+twin_b": ("twin_a", "twin_b")}
    with_clusters = Permutation(random_state=0, cluster_groups=pair).compute(model, data)
    np.testing.assert_array_equal(with_clusters.mean, plain.mean)  # the features unchanged
    assert with_clusters.features == plain.features
    group = with_clusters.diagnostics["cluster_importance"]["twin_a+twin_b"]
    grouped = Permutation(random_state=0, groups={"pair": ("twin_a", "twin_b")})
    assert group["mean"] == grouped.compute(model, data).mean[0]  # the same permutations
    assert group["columns"] == ["twin_a", "twin_b"]
    # Shuffling both twins removes the shared signal: 2 Var(twin_a + twin_b) ~ 8, far above
    # either twin alone (2 Var(twin) ~ 2).
    assert group["mean"] > 3 * max(plain.mean[0], plain.mean[1])
    assert group["ci_low"] <= group["mean"] <= group["ci_high"]


def test_probe_occludes_clusters_as_groups_beside_the_features():
    from importance_tasks.methods import Probe

    model, data = _twins()
    pair = {"twin_a+twin_b": ("twin_a", "twin_b")}
    plain = Probe(random_state=0, n_bootstrap=5).compute(model, data)
    with_clusters = Probe(random_state=0, n_bootstrap=5, cluster_groups=pair).compute(model, data)
    np.testing.assert_array_equal(with_clusters.mean, plain.mean)
    grouped = Probe(random_state=0, n_bootstrap=5, groups={"pair": ("twin_a", "twin_b")})
    group = with_clusters.diagnostics["cluster_importance"]["twin_a+twin_b"]
    assert group["mean"] == grouped.compute(model, data).mean[0]


def test_given_clusters_are_the_partners_without_measuring_again():
    model, data = _twins()
    measured = ConditionalPermutation(random_state=0).compute(model, data)
    given = ConditionalPermutation(
        random_state=0, cluster_groups={"twins": ("twin_a", "twin_b")}
    ).compute(model, data)
    np.testing.assert_array_equal(given.mean, measured.mean)
    assert "cluster_importance" not in given.diagnostics  # partners, not extra rows
    other = ConditionalPermutation(
        random_state=0, cluster_groups={"odd": ("twin_a", "noise")}
    ).compute(model, data)
    assert other.diagnostics["partners"]["twin_b"] == []  # its twin was not named a partner
    assert (
        other.mean[1]
        == measured.mean[1] * 0 + Permutation(random_state=0).compute(model, data).mean[1]
    )
