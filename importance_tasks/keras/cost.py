"""What one row costs the model: its multiply-adds, read from its layers.

The methods size their work from it (``importance_tasks.methods._work``) instead of timing
the model, so that the work they do depends on the model and the data alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["multiply_adds"]

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
