"""What ``keras.ops`` cannot say, once per Keras backend: compiling a function of tensors into
one that takes and returns NumPy arrays, and taking a gradient.

The adapter (``importance_tasks.keras``) writes the forward pass, the first-layer updates and
the split at the first differentiable tensors with ``keras.ops`` alone; ``current()`` gives the
module for the backend Keras runs on (``keras.backend.backend()``, Keras' own choice:
``KERAS_BACKEND`` or ``keras.json``, see ``importance_tasks.keras.backend_setup``). Each module
holds three functions:

``compiled(fn, shapes)``
    ``fn`` of tensors, returning one tensor, as a function of float32 NumPy arrays returning a
    float64 array. ``shapes`` gives each argument's shape, None where it varies.
``gradient_of(fn, shapes)``
    For ``fn`` of one (rows, width) tensor, the function ``(x, w) -> d sum(fn(x) * w) / dx``,
    compiled the same way (``w`` shaped like ``fn``'s output).
``accelerator_memory()``
    The bytes of memory of the GPU (or other accelerator) Keras computes on, its whole limit
    rather than what is free now, so that the same device sizes the same batches; None on a CPU.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Compiled", "Shapes", "current", "weighted_sum"]

Shapes = Sequence[tuple[int | None, ...]]
Compiled = Callable[..., NDArray[np.float64]]


def current() -> ModuleType:
    """The module for the backend Keras runs on.

    Raises
    ------
    UnsupportedModelError
        When Keras runs on a backend without one (``numpy``, ``openvino``: inference only);
        the modules are named ``on_<backend>`` for ``backend_setup.BACKENDS``.
    """
    import keras

    from importance_tasks.errors import UnsupportedModelError
    from importance_tasks.keras.backend_setup import BACKENDS

    name = keras.backend.backend()
    if name not in BACKENDS:
        raise UnsupportedModelError(
            f"Keras runs on the {name!r} backend, which cannot take gradients or compile a "
            f"function; set KERAS_BACKEND to one of {sorted(BACKENDS)}"
        )
    return importlib.import_module(f"{__name__}.on_{name}")


def weighted_sum(fn: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    """``(x, w) -> sum(fn(x) * w)``, with ``fn``'s output shaped like ``w``: the scalar whose
    gradient is each row's gradient of its weighted outputs."""
    import keras

    def total(x: Any, w: Any) -> Any:
        out = keras.ops.reshape(fn(x), keras.ops.shape(w))
        return keras.ops.sum(out * w)

    return total
