"""LIME's pieces that replace a library call (the method itself: test_faithful.py)."""

from __future__ import annotations

import numpy as np


def test_column_statistics_equal_scikit_learns_scaler():
    from sklearn.preprocessing import StandardScaler

    from importance_tasks.methods.lime import column_mean_and_scale

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 5)) * [1.0, 2.0, 0.0, 5.0, 1e-3] + [0.0, 1e4, 3.0, 2.0, 5.0]
    X = X.astype(np.float32)
    expected = StandardScaler(with_mean=False).fit(X)
    mean, scale = column_mean_and_scale(X, block_rows=3_000)  # blocks that do not divide rows
    np.testing.assert_allclose(mean, expected.mean_, rtol=1e-12)
    np.testing.assert_allclose(scale, expected.scale_, rtol=1e-10)
    assert scale[2] == 1.0  # a constant column, as scikit-learn
