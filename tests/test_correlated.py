"""The default analysis on a trained model whose data hold a correlated pair and an independent
informative feature: the pair is found as one cluster and ranked as a group, each twin's
conditional importance is clearly below its marginal importance, and the report says why."""

from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.analysis import explain
from importance_tasks.data import EvalData
from importance_tasks.model import KerasModel

NAMES = ("twin_a", "twin_b", "solo", "noise_1", "noise_2")


@pytest.fixture(scope="module")
def twins():
    from importance_tasks.demo_models import train_mlp

    rng = np.random.default_rng(1)
    n = 3000
    signal = rng.normal(size=n)
    X = np.column_stack(
        [
            signal + 0.2 * rng.normal(size=n),
            signal + 0.2 * rng.normal(size=n),
            rng.normal(size=n),
            rng.normal(size=n),
            rng.normal(size=n),
        ]
    ).astype(np.float32)
    y = (2 * signal + 1.5 * X[:, 2] + 0.1 * rng.normal(size=n)).astype(np.float32)
    model = train_mlp(X[:2000], y[:2000], epochs=30)
    return KerasModel(model, columns=NAMES), EvalData(X=X[2000:], y=y[2000:], feature_names=NAMES)


def test_the_default_analysis_finds_the_pair_ranks_it_and_explains_it(twins):
    from importance_tasks.ranking import agreement
    from importance_tasks.report import report_html

    model, data = twins
    analysis = explain(model, data, seed=0, time_budget_s=3)
    assert analysis.dependence is not None
    assert analysis.dependence.clusters == (("twin_a", "twin_b"),)
    group = analysis.cluster_importance()["permutation"]["twin_a+twin_b"]
    marginal = analysis.results["permutation"]
    conditional = analysis.results["conditional_permutation"]
    assert group["mean"] > max(marginal.mean[:2])  # the pair matters more than either twin
    for twin in (0, 1):
        assert conditional.mean[twin] < 0.5 * marginal.mean[twin]
    assert conditional.mean[2] == marginal.mean[2]  # no partner: the very same shuffles
    page = report_html(
        title="twins",
        context={},
        results=list(analysis.results.values()),
        consensus=analysis.consensus,
        agreement=agreement(list(analysis.results.values())),
        comparison=None,
        charts={},
        dependence=analysis.dependence,
    )
    assert "twin_a, twin_b" in page and "as one feature it would rank #1" in page
    assert "most of its importance is shared with twin_b" in page
    assert "Rank-biased overlap" in page
