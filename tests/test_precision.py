"""The premise of ``tests/precision.py``, measured on the machine that runs the tests: the same
rows in batches of other shapes come out of the float32 forward pass within ``OUTPUT_ULPS``
(ulps of a probability's logit scale, see ``tests/precision.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.precision import OUTPUT_ULPS, output_ulps


@pytest.mark.parametrize("problem", ["friedman", "three_classes"])
def test_batch_shape_moves_outputs_by_a_few_ulps_at_most(request, problem):
    trained = request.getfixturevalue(problem)
    X = trained.data.X.astype(np.float32)
    model = trained.model
    whole = model.predict(X)
    n_rows = X.shape[0]
    others = [
        np.concatenate([model.predict(X[i : i + rows]) for i in range(0, n_rows, rows)])
        for rows in (1, 7, 143)
    ]
    others.append(model.predict(np.tile(X, (40, 1)))[:n_rows])  # one of many stacked copies
    for other in others:
        assert float(output_ulps(other, whole).max()) <= OUTPUT_ULPS
