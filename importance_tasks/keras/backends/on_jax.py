"""JAX: ``jax.jit`` (compiled once per distinct input shape; the model's weights are closed
over, so they are constants of the compiled function), gradients by ``jax.grad``. On a GPU,
arguments are put on the device and only the outputs come back."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.keras.backends import Compiled, Shapes, weighted_sum

__all__ = ["accelerator_memory", "compiled", "gradient_of"]


def compiled(fn: Callable[..., Any], shapes: Shapes) -> Compiled:
    import jax

    del shapes  # jit compiles once per shape it is called with
    jitted = jax.jit(fn)

    def call(*arrays: Any) -> NDArray[np.float64]:
        return np.asarray(jitted(*(_float32(a) for a in arrays)), dtype=np.float64)

    return call


def gradient_of(fn: Callable[[Any], Any], shapes: Shapes) -> Compiled:
    import jax

    return compiled(jax.grad(weighted_sum(fn)), shapes)


def _float32(array: Any) -> Any:
    """A NumPy array as float32 (``jit`` puts it on the device); a device array as it is."""
    return np.asarray(array, dtype=np.float32) if isinstance(array, np.ndarray) else array


@cache  # one device per process, asked once
def accelerator_memory() -> int | None:
    """The memory limit of JAX's first device (``memory_stats()["bytes_limit"]``); None on a CPU
    (or a device that does not report it)."""
    import jax

    device = jax.devices()[0]
    if device.platform == "cpu":
        return None
    limit = (device.memory_stats() or {}).get("bytes_limit")
    return int(limit) if limit else None
