"""TensorFlow: ``tf.function`` traced once per input signature, gradients by
``tf.GradientTape``; NumPy batches shared without a copy where TensorFlow allows it."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.keras.backends import Compiled, Shapes, weighted_sum
from importance_tasks.model import TENSOR_ALIGNMENT

__all__ = ["accelerator_memory", "compiled", "gradient_of"]


def compiled(fn: Callable[..., Any], shapes: Shapes) -> Compiled:
    import tensorflow as tf

    traced = tf.function(
        fn,
        input_signature=[tf.TensorSpec(shape=s, dtype=tf.float32) for s in shapes],
        reduce_retracing=True,
    )

    def call(*arrays: Any) -> NDArray[np.float64]:
        return np.asarray(traced(*(_shared(a) for a in arrays)), dtype=np.float64)

    return call


def gradient_of(fn: Callable[[Any], Any], shapes: Shapes) -> Compiled:
    import tensorflow as tf

    total = weighted_sum(fn)

    def gradient(x: Any, w: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = total(x, w)
        return tape.gradient(value, x)

    return compiled(gradient, shapes)


def _shared(batch: Any) -> Any:
    """A NumPy batch as a tensor: shared without a copy when it is contiguous and 64-byte
    aligned (``importance_tasks.model.aligned_empty``); TensorFlow copies any other array.
    A tensor (rows cached on the device) is passed as it is.

    Safe because the traced call runs synchronously and its float32 outputs are converted to
    new float64 arrays before the caller can write to the batch again.
    """
    import tensorflow as tf

    if not isinstance(batch, np.ndarray):
        return batch
    batch = np.ascontiguousarray(batch, dtype=np.float32)
    if batch.ctypes.data % TENSOR_ALIGNMENT == 0 and batch.size:
        return tf.experimental.dlpack.from_dlpack(batch.__dlpack__())
    return batch


@cache  # one device per process, asked once
def accelerator_memory() -> int | None:
    """The memory limit TensorFlow gives its first GPU; None without one. (``device_lib`` is the
    one place TensorFlow reports a device's limit; ``tf.config`` reports only what is in use.)"""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    from tensorflow.python.client import device_lib

    limits = [d.memory_limit for d in device_lib.list_local_devices() if d.device_type == "GPU"]
    return int(limits[0]) if limits else None
