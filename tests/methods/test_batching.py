"""Stacked perturbed copies: every copy is the data with exactly its job's columns replaced."""

from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.keras import KerasModel
from importance_tasks.methods._common import perturbed_outputs
from importance_tasks.model import CallableModel, aligned_empty
from tests.conftest import dense_model


@pytest.mark.parametrize("max_batch_bytes", [1, 3 * 40 * 6 * 4, 2**30])
def test_each_copy_replaces_only_its_columns(max_batch_bytes):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    # Jobs of different widths, so a reused slot must restore columns its next job keeps.
    columns = [np.array(c, dtype=np.intp) for c in ([0], [1, 2], [5], [0, 3, 4], [2], [1])] * 3
    values = [rng.normal(size=(40, len(c))).astype(np.float32) for c in columns]
    jobs = [(c, (lambda v=v: v)) for c, v in zip(columns, values, strict=True)]
    identity = CallableModel(lambda batch: batch.copy(), n_features=6)

    seen = dict(perturbed_outputs(identity, X, jobs, max_batch_bytes=max_batch_bytes))

    assert sorted(seen) == list(range(len(jobs)))
    for job, (cols, value) in enumerate(zip(columns, values, strict=True)):
        expected = X.astype(np.float64)
        expected[:, cols] = value
        np.testing.assert_array_equal(seen[job], expected)


def test_aligned_batches_are_shared_with_tensorflow_and_outputs_are_not():
    """An aligned batch reaches TensorFlow without a copy; the outputs returned are new arrays,
    so writing the next batch into the same buffer cannot change them."""
    weights = np.eye(3)
    model = KerasModel(dense_model([weights], [np.zeros(3)]))
    batch = aligned_empty((5, 3))
    assert batch.ctypes.data % 64 == 0
    batch[:] = np.arange(15, dtype=np.float32).reshape(5, 3)
    unaligned = np.ascontiguousarray(batch[1:])
    out = model.predict(batch)
    np.testing.assert_array_equal(out, batch)
    batch[:] = -1.0
    np.testing.assert_array_equal(out[:, 0], [0, 3, 6, 9, 12])
    np.testing.assert_array_equal(model.predict(unaligned), unaligned)
