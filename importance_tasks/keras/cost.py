"""What one row costs the model: its multiply-adds and the memory of its activations, read
from its layers.

The methods size their work from the multiply-adds (``importance_tasks.methods._work``) instead
of timing the model, so that the work they do depends on the model and the data alone; on an
accelerator the forward pass's batches are sized from the activations and the device's memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["activation_floats", "batch_rows_for", "multiply_adds"]

# On an accelerator, the activations of one batch may take this share of the device's memory
# (the rest is left to the weights, the copies the methods stack and the backend's workspace),
# within these bounds: below them a call's overhead shows, above them a batch gains nothing.
DEVICE_SHARE = 1 / 8
MAX_DEVICE_BATCH_ROWS = 1 << 22

# Weights that multiply the input (a Dense or convolution kernel, a recurrent kernel); a
# lookup table (``embeddings``) or a bias costs no multiply-adds.
_MULTIPLYING = ("kernel",)


def multiply_adds(keras_model: Any) -> int:
    """Multiply-adds of one forward pass of one row: each layer's multiplying weights times
    the positions it is applied at (a window's steps for a recurrent or convolution layer).

    A count of the work, not a timing: layers without multiplying weights (activations,
    normalisation, lookups) are left out, so it is a lower bound that ranks models by cost.
    """
    total = 0
    for layer in _layers(keras_model):
        weights = sum(
            int(np.prod(w.shape))
            for w in layer.weights
            if any(part in w.path.rsplit("/", 1)[-1] for part in _MULTIPLYING)
        )
        if weights:
            total += weights * _positions(layer)
    return max(total, 1)


def activation_floats(keras_model: Any) -> int:
    """Floats one row holds in the forward pass: its inputs and every layer's outputs (a
    window's steps counted), an upper bound on what a batch keeps alive at once per row."""
    total = 0
    for tensor in [*keras_model.inputs, *(_outputs(layer) for layer in _layers(keras_model))]:
        for part in tensor if isinstance(tensor, (list, tuple)) else [tensor]:
            shape = getattr(part, "shape", None)
            if shape is not None:
                total += int(np.prod([d or 1 for d in shape[1:]]))
    return max(total, 1)


def batch_rows_for(keras_model: Any, memory: int | None, default: int) -> int:
    """Rows per forward call: ``default`` on a CPU (``memory`` None); on an accelerator with
    ``memory`` bytes, as many as fill ``DEVICE_SHARE`` of it with float32 activations, at least
    ``default`` and at most ``MAX_DEVICE_BATCH_ROWS``. ``memory`` is the device's limit, not
    what is free, so the same device always gives the same batches."""
    if memory is None:
        return default
    rows = int(memory * DEVICE_SHARE) // (4 * activation_floats(keras_model))
    return int(np.clip(rows, default, MAX_DEVICE_BATCH_ROWS))


def _outputs(layer: Any) -> Any:
    try:
        return layer.output
    except (AttributeError, ValueError):  # a layer called more than once, or never
        return ()


def _layers(keras_model: Any) -> list[Any]:
    """The model's layers, those of nested models included (not the nested models' own
    weights twice)."""
    found = []
    for layer in getattr(keras_model, "layers", ()):
        if getattr(layer, "layers", None):
            found.extend(_layers(layer))
        else:
            found.append(layer)
    return found


def _positions(layer: Any) -> int:
    """How many times a layer applies its kernel per row: the largest product of the inner
    dimensions (all but batch and channels) of its input or output; 1 for a flat layer."""
    best = 1
    for attribute in ("input", "output"):
        try:
            tensors = getattr(layer, attribute)
        except (AttributeError, ValueError):
            continue
        for tensor in tensors if isinstance(tensors, (list, tuple)) else [tensors]:
            shape = getattr(tensor, "shape", None)
            if shape is None or len(shape) < 3:
                continue
            best = max(best, int(np.prod([d or 1 for d in shape[1:-1]])))
    return best
