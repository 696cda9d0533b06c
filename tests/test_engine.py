from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.engine import DEFAULT_METHODS, explain
from importance_tasks.model import CallableModel


def test_explain_runs_every_method_and_builds_consensus(friedman):
    analysis = explain(friedman.model, friedman.data, random_state=0)
    assert list(analysis.results) == list(DEFAULT_METHODS)
    assert analysis.consensus.methods == DEFAULT_METHODS
    assert set(analysis.consensus.rank[:5]) <= {1, 2, 3, 4, 5, 6}
    payload = analysis.as_dict()
    assert payload["features"] == list(friedman.data.feature_names)
    assert set(payload["methods"]["permutation"]) == {"importance", "std", "rank", "seconds"}


def test_seed_reaches_every_method(friedman):
    a = explain(friedman.model, friedman.data, methods=["permutation"], random_state=3)
    b = explain(friedman.model, friedman.data, methods=["permutation"], random_state=3)
    np.testing.assert_array_equal(a.results["permutation"].mean, b.results["permutation"].mean)


def test_unsupported_method_is_skipped_only_when_asked(friedman):
    model = CallableModel(friedman.model.predict, n_features=10)
    analysis = explain(model, friedman.data, methods=["probe", "weights"], skip_unsupported=True)
    assert (
        list(analysis.results) == ["probe"] and "needs a Keras model" in analysis.skipped["weights"]
    )
    with pytest.raises(ValueError, match="needs a Keras model"):
        explain(model, friedman.data, methods=["probe", "weights"])


def test_bad_method_names_and_options_are_refused(friedman):
    with pytest.raises(ValueError, match=r"unknown methods \['lasso'\]"):
        explain(friedman.model, friedman.data, methods=["lasso"])
    with pytest.raises(ValueError, match="options given for methods that do not run"):
        explain(friedman.model, friedman.data, methods=["probe"], options={"weights": {}})
    with pytest.raises(ValueError, match=r"method 'probe': .*unexpected keyword"):
        explain(
            friedman.model, friedman.data, methods=["probe"], options={"probe": {"n_repeats": 2}}
        )
