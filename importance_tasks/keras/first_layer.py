"""Copies that differ in a few columns, through the first Dense layer by a low-rank update.

Permutation and occlusion evaluate the model on copies of the rows with one column (or one
group) changed. When the model's input feeds a Dense layer (after per-column preprocessing such
as ``Normalization`` or ``Rescaling``), the copy's pre-activations of that layer are the data's
pre-activations plus the column's change times that column's row of the kernel::

    (Z + dZ_j e_j) @ W + b  =  (Z @ W + b) + dZ_j W[j]

So the pre-activations of the data are computed once, each copy costs one outer product
(rows x units) instead of the layer's (rows x features x units) multiply-adds, and only the rest
of the network runs per copy. The result equals the full forward pass up to float32 rounding
(the sums are taken in another order); tests compare the two. On the benchmark's 100-feature
model the first Dense layer holds most of a forward pass's work (see ``benchmarks/RESULTS.md``).

The per-column preprocessing stays per column and is computed as Keras computes it, so a
column with a large offset loses no precision to folding it into the kernel. Any other
structure (named inputs, a skip connection from the input, a layer shared or called twice,
LoRA or quantised kernels, another dtype than float32) keeps the full forward pass, and so
does a first layer that holds less than half of the Dense layers' work (by default: on the
benchmark's 10-feature model, 64 units wide, the updates were slower than the forward pass).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.keras.graph import graph_unchanged
from importance_tasks.model import stack_outputs

__all__ = ["FirstDense", "RowsAtFirstDense", "first_dense"]

BLOCK_ROWS = 16_384  # rows of one update per call: copies x rows x units stay near the cache
Preprocess = Callable[[NDArray[np.float32], NDArray[np.intp] | slice], NDArray[Any]]


@dataclass(frozen=True)
class FirstDense:
    """The model as per-column preprocessing, a first Dense layer, and the rest of the network.

    ``rest_of_outer`` and ``rest_of_low_rank`` take the data's pre-activations of the Dense
    layer (rows, units), each copy's change of its preprocessed columns and those columns'
    kernel rows, and run the updated pre-activations of every copy through the layer's
    activation and the rest of the network, in one traced call. ``rest_of_pre`` runs given
    pre-activations (rows, units) through the activation and the rest of the network (the
    coalition walks of ``importance_tasks.methods.walks``).
    """

    layer: str
    preprocess: tuple[Preprocess, ...]
    kernel: NDArray[np.float32]
    bias: NDArray[np.float32]
    rest_of_outer: Any
    rest_of_low_rank: Any
    rest_of_pre: Any

    def inputs_of(
        self, values: NDArray[np.float32], columns: NDArray[np.intp] | slice = slice(None)
    ) -> NDArray[np.float32]:
        """``values`` of ``columns`` after the per-column preprocessing, as Keras computes it."""
        for step in self.preprocess:
            values = step(values, columns)
        return np.asarray(values, dtype=np.float32)

    def at(self, X: NDArray[np.float32]) -> RowsAtFirstDense:
        """The rows with their preprocessed inputs and pre-activations, for many copies."""
        import keras

        inputs = self.inputs_of(np.asarray(X, dtype=np.float32))
        pre = inputs @ self.kernel + self.bias
        blocks = tuple(  # on the backend's device once, for every copy
            keras.ops.convert_to_tensor(pre[i : i + BLOCK_ROWS])
            for i in range(0, max(len(pre), 1), BLOCK_ROWS)
        )
        return RowsAtFirstDense(self, inputs, blocks)


@dataclass(frozen=True)
class RowsAtFirstDense:
    """Rows with their preprocessed inputs and pre-activations, cached for many copies."""

    first: FirstDense
    inputs: NDArray[np.float32]
    pre_blocks: tuple[Any, ...]  # the pre-activations in blocks of BLOCK_ROWS rows

    @property
    def copy_bytes(self) -> int:
        """Bytes of one copy's pre-activations."""
        return int(self.inputs.shape[0] * self.first.kernel.shape[1] * 4)

    def predict_copies(
        self, copies: Sequence[tuple[NDArray[np.intp], NDArray[np.float32]]]
    ) -> NDArray[np.float64]:
        """Outputs of copies of the rows, each with ``columns`` set to ``values`` (rows x
        columns, or one value per column), stacked in order: shape (copies * rows, outputs)."""
        n_rows, width = self.inputs.shape[0], max(len(columns) for columns, _ in copies)
        change = np.zeros((len(copies), n_rows, width), dtype=np.float32)
        rows = np.zeros((len(copies), width, self.first.kernel.shape[1]), dtype=np.float32)
        for i, (columns, values) in enumerate(copies):
            change[i, :, : len(columns)] = (
                self.first.inputs_of(values, columns) - self.inputs[:, columns]
            )
            rows[i, : len(columns)] = self.first.kernel[columns]
        parts = []
        for b, pre in enumerate(self.pre_blocks):  # blocks of rows keep the updates in cache
            block = change[:, b * BLOCK_ROWS : (b + 1) * BLOCK_ROWS]
            if width == 1:  # an outer product per copy: a broadcast multiply, not a matmul
                out = self.first.rest_of_outer(pre, block[:, :, 0], rows[:, 0])
            else:
                out = self.first.rest_of_low_rank(pre, block, rows)
            parts.append(np.asarray(out, dtype=np.float64).reshape(len(copies), len(block[0]), -1))
        outputs = np.concatenate(parts, axis=1)
        return stack_outputs([outputs.reshape(len(copies) * n_rows, -1)])


def first_dense(keras_model: Any, *, min_share: float = 0.0) -> FirstDense | None:
    """The model split after its first Dense layer, or None where its structure does not allow
    a low-rank update (see the module's docstring), or where that layer holds less than
    ``min_share`` of the Dense layers' multiply-adds (the update then saves less than it costs
    in memory traffic: rows x units per copy)."""
    import keras

    inputs = list(getattr(keras_model, "inputs", None) or [])
    if len(inputs) != 1 or len(inputs[0].shape) != 2 or inputs[0].shape[1] is None:
        return None
    n_features = int(inputs[0].shape[1])
    split = (
        _sequential_split(keras_model, n_features)
        if isinstance(keras_model, keras.Sequential)
        else _functional_split(keras_model, n_features)
    )
    if split is None:
        return None
    steps, dense, after = split
    if (
        dense.lora_enabled
        or getattr(dense, "quantization_mode", None) is not None
        or dense.dtype_policy.compute_dtype != "float32"
        or tuple(dense.kernel.shape) != (n_features, dense.units)
    ):
        return None
    if _first_share(keras_model, dense) < min_share:
        return None
    return _split_at(dense, steps, after)


def _first_share(keras_model: Any, dense: Any) -> float:
    """The first Dense layer's share of the multiply-adds of all Dense layers (per row)."""
    sizes = [
        int(np.prod(layer.kernel.shape))
        for layer in keras_model.layers
        if type(layer).__name__ == "Dense"
    ]
    first = int(np.prod(dense.kernel.shape))
    return first / max(sum(sizes), 1)


_Split = tuple[list[Preprocess], Any, Callable[[Any], Any]]
"""The per-column preprocessing, the first Dense layer, and the rest of the network."""


def _leading(layers: Sequence[Any], n_features: int) -> tuple[list[Preprocess], int] | None:
    """The per-column preprocessing steps at the start of ``layers`` and the position of the
    Dense layer after them, or None when another layer comes first."""
    steps: list[Preprocess] = []
    for i, layer in enumerate(layers):
        kind = type(layer).__name__
        if kind == "Dense":
            return steps, i
        make = _PREPROCESSING.get(kind)
        step = None if make is None else make(layer, n_features)
        if step is None:
            return None
        steps.append(step)
    return None


def _sequential_split(keras_model: Any, n_features: int) -> _Split | None:
    """A Sequential model is a chain: the layers after the Dense one, called in order. (Its
    layers hold several graph nodes once built, so the functional split does not apply.)"""
    layers = [layer for layer in keras_model.layers if type(layer).__name__ != "InputLayer"]
    found = _leading(layers, n_features)
    if found is None:
        return None
    steps, at = found
    rest = layers[at + 1 :]

    def after(h: Any) -> Any:
        for layer in rest:
            h = layer(h, training=False)
        return h

    return steps, layers[at], after


def _functional_split(keras_model: Any, n_features: int) -> _Split | None:
    """A functional model whose input feeds only a chain of preprocessing layers and a Dense
    layer: the rest of the network is the model from the Dense layer's output."""
    import keras

    layers = [layer for layer in keras_model.layers if type(layer).__name__ != "InputLayer"]
    found = _leading(layers, n_features)
    if found is None:
        return None
    steps, at = found
    tensor = keras_model.inputs[0]
    chain = [tensor]  # the input and what the steps before the Dense layer make of it
    for layer in layers[: at + 1]:  # each called once, each on the one before
        if len(getattr(layer, "_inbound_nodes", ())) != 1 or layer.input is not tensor:
            return None
        tensor = layer.output
        chain.append(tensor)
    dense = layers[at]
    if list(keras_model.outputs) == [dense.output]:  # the Dense layer is the whole model
        return steps, dense, _unchanged
    if _read_elsewhere(layers[at + 1 :], chain[:-1]):  # the rest also takes the input itself
        return None
    try:
        with graph_unchanged(keras_model):
            rest_model = keras.Model(dense.output, keras_model.outputs)
    except ValueError:  # a branch of the network the check above does not see
        return None
    return steps, dense, lambda h: rest_model(h, training=False)


def _read_elsewhere(layers: list[Any], tensors: list[Any]) -> bool:
    """Whether any call of ``layers`` takes one of ``tensors`` (checked by identity: older
    Keras builds a model from a tensor that is not its only way in without complaint)."""
    return any(
        any(t is tensor for t in node.input_tensors for tensor in tensors)
        for layer in layers
        for node in getattr(layer, "_inbound_nodes", ())
    )


def _split_at(dense: Any, steps: list[Preprocess], after: Callable[[Any], Any]) -> FirstDense:
    import keras

    from importance_tasks.keras.backends import current

    backend = current()
    activation = dense.activation or _unchanged
    units = int(dense.units)

    def rest(pre: Any) -> Any:
        return after(activation(keras.ops.reshape(pre, (-1, units))))

    rest_of_outer = backend.compiled(
        lambda pre, change, rows: rest(pre[None] + change[:, :, None] * rows[:, None, :]),
        [(None, units), (None, None), (None, units)],
    )
    rest_of_low_rank = backend.compiled(
        lambda pre, change, rows: rest(pre[None] + keras.ops.matmul(change, rows)),
        [(None, units), (None, None, None), (None, None, units)],
    )
    kernel = np.ascontiguousarray(keras.ops.convert_to_numpy(dense.kernel), dtype=np.float32)
    bias = (
        keras.ops.convert_to_numpy(dense.bias).astype(np.float32)
        if dense.use_bias
        else np.zeros(units, dtype=np.float32)
    )

    rest_of_pre = backend.compiled(rest, [(None, units)])
    return FirstDense(
        dense.name, tuple(steps), kernel, bias, rest_of_outer, rest_of_low_rank, rest_of_pre
    )


def _unchanged(x: Any) -> Any:
    return x


def _per_column(values: Any, n_features: int) -> NDArray[np.float32]:
    array = np.asarray(values, dtype=np.float32).reshape(-1)
    return np.broadcast_to(array, (n_features,)).copy() if array.size == 1 else array


def _normalization(layer: Any, n_features: int) -> Preprocess | None:
    """Keras' ``Normalization``: ``(x - mean) / max(sqrt(variance), epsilon)``, or
    ``mean + x * max(sqrt(variance), epsilon)`` when inverted; per feature only."""
    import keras

    if tuple(layer.axis) not in {(-1,), (1,)}:
        return None
    mean = _per_column(keras.ops.convert_to_numpy(layer.mean), n_features)
    variance = _per_column(keras.ops.convert_to_numpy(layer.variance), n_features)
    if mean.size != n_features:
        return None
    sd = np.maximum(np.sqrt(variance), np.float32(keras.config.epsilon()))
    if getattr(layer, "invert", False):
        return lambda v, c: mean[c] + v * sd[c]
    return lambda v, c: (v - mean[c]) / sd[c]


def _rescaling(layer: Any, n_features: int) -> Preprocess | None:
    """Keras' ``Rescaling``: ``x * scale + offset``."""
    scale = _per_column(layer.scale, n_features)
    offset = _per_column(layer.offset, n_features)
    if scale.size != n_features or offset.size != n_features:
        return None
    return lambda v, c: v * scale[c] + offset[c]


_PREPROCESSING: dict[str, Callable[[Any, int], Preprocess | None]] = {
    "Normalization": _normalization,
    "Rescaling": _rescaling,
}
