"""Rows per forward call: the default on a CPU, sized from an accelerator's memory on a GPU (the
GPU's memory is what the backend reports; here the report is replaced, the sizing is the same)."""

from __future__ import annotations

import numpy as np
import pytest

from importance_tasks.keras import KerasModel
from importance_tasks.keras.backends import current
from importance_tasks.keras.cost import (
    DEVICE_SHARE,
    MAX_DEVICE_BATCH_ROWS,
    activation_floats,
    batch_rows_for,
)
from importance_tasks.model import DEFAULT_BATCH_ROWS
from tests.conftest import dense_model


def _mlp():
    rng = np.random.default_rng(0)
    return dense_model(
        [rng.normal(size=(10, 64)), rng.normal(size=(64, 32)), rng.normal(size=(32, 1))]
    )


def test_activations_count_the_input_and_every_layers_output():
    assert activation_floats(_mlp()) == 10 + 64 + 32 + 1


def test_the_cpu_keeps_the_default_and_an_accelerator_fills_its_share():
    model = _mlp()
    assert current().accelerator_memory() is None  # this machine has no GPU
    assert KerasModel(model).batch_rows == DEFAULT_BATCH_ROWS
    assert batch_rows_for(model, None, DEFAULT_BATCH_ROWS) == DEFAULT_BATCH_ROWS
    gib = 2**30
    # 80 GiB: an eighth in float32 activations of 107 floats a row, above the largest batch.
    assert batch_rows_for(model, 80 * gib, DEFAULT_BATCH_ROWS) == MAX_DEVICE_BATCH_ROWS
    expected = int(gib * DEVICE_SHARE) // (4 * 107)
    assert DEFAULT_BATCH_ROWS < expected < MAX_DEVICE_BATCH_ROWS
    assert batch_rows_for(model, gib, DEFAULT_BATCH_ROWS) == expected
    assert batch_rows_for(model, 2**20, DEFAULT_BATCH_ROWS) == DEFAULT_BATCH_ROWS  # never fewer


def test_a_model_on_an_accelerator_takes_its_batches_from_the_memory(monkeypatch):
    """The backend's report reaches the model (asked once per process), an explicit
    batch_rows wins, and other batches give the same outputs within float32 rounding."""
    backend = current()
    monkeypatch.setattr(backend, "accelerator_memory", lambda: 2**30)
    model = _mlp()
    sized = KerasModel(model)
    assert sized.batch_rows == int(2**30 * DEVICE_SHARE) // (4 * 107)
    assert KerasModel(model, batch_rows=100).batch_rows == 100
    X = np.random.default_rng(1).normal(size=(1000, 10)).astype(np.float32)
    small = KerasModel(model, batch_rows=100).predict(X)
    np.testing.assert_allclose(sized.predict(X), small, rtol=1e-5, atol=1e-5 * np.abs(small).max())


def test_batch_rows_must_be_positive():
    from importance_tasks.errors import InputError

    with pytest.raises(InputError, match="batch_rows must be >= 1"):
        KerasModel(_mlp(), batch_rows=0)
