"""PyTorch: the Keras layers run eagerly on Keras' device (a GPU when there is one), without
recording operations for the forward pass; gradients by ``torch.autograd.grad``."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.keras.backends import Compiled, Shapes, weighted_sum

__all__ = ["accelerator_memory", "compiled", "gradient_of"]


def compiled(fn: Callable[..., Any], shapes: Shapes) -> Compiled:
    import torch

    del shapes

    def call(*arrays: Any) -> NDArray[np.float64]:
        with torch.no_grad():
            out = fn(*(_on_device(a) for a in arrays))
        return np.asarray(out.detach().cpu().numpy(), dtype=np.float64)

    return call


def gradient_of(fn: Callable[[Any], Any], shapes: Shapes) -> Compiled:
    import torch

    del shapes
    total = weighted_sum(fn)

    def call(x: NDArray[np.float32], w: NDArray[np.float32]) -> NDArray[np.float64]:
        xt = _on_device(x).requires_grad_(True)
        (grad,) = torch.autograd.grad(total(xt, _on_device(w)), xt)
        return np.asarray(grad.detach().cpu().numpy(), dtype=np.float64)

    return call


def _on_device(array: Any) -> Any:
    """A NumPy array as a float32 tensor on Keras' device; a tensor as it is."""
    import keras

    if not isinstance(array, np.ndarray):
        return array
    return keras.ops.convert_to_tensor(np.asarray(array, dtype=np.float32))


@cache  # one device per process, asked once
def accelerator_memory() -> int | None:
    """The total memory of the CUDA device Keras computes on; None on a CPU."""
    import torch
    from keras.src.backend.torch.core import get_device

    device = torch.device(get_device())
    if device.type != "cuda":
        return None
    return int(torch.cuda.mem_get_info(device)[1])
