"""Where gradients start: a Keras model split at its first differentiable tensors.

A gradient cannot flow back to a string, to an integer, or through a lookup, hashing,
discretisation or category encoding. Differentiating the model with respect to such a column
gives 0 everywhere, which would read as "this column does not matter". Instead, each column is
attributed at the first float tensors after its preprocessing (a ``StringLookup`` one-hot, an
``Embedding`` of its indices, a ``Normalization`` of an integer): the model is split there into
an *encoder* (raw columns to those tensors) and a *head* (those tensors to the output), and
attribution methods run on the head, in the space of the encoded values ``Z``.

Each component of ``Z`` is owned by the data columns it depends on. A component owned by one
column sums back to it. A component owned by several (``HashedCrossing``, or one
``StringLookup`` over a (None, k) input) belongs to them together: it can be attributed to a
group holding all of them, and to none of them alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.errors import UnsupportedModelError
from importance_tasks.keras.graph import graph_unchanged
from importance_tasks.keras.model_inputs import InputSlot

__all__ = ["GradientSpace", "gradient_space"]

_FLOATS = {"float16", "float32", "float64", "bfloat16"}
# Layers whose outputs carry no gradient back to their inputs, whatever their dtypes.
CUTTING_LAYERS = {
    "StringLookup", "IntegerLookup", "Hashing", "HashedCrossing", "Discretization",
    "CategoryEncoding", "TextVectorization",
}  # fmt: skip


@dataclass(frozen=True)
class GradientSpace:
    """A model split where gradients start.

    Attributes
    ----------
    owners : tuple of tuple of int
        Per component of ``Z``, the data columns (indices) it depends on.
    layers : tuple of str
        Per component of ``Z``, the layer whose output it is ("" for a float input taken as
        it is).
    encode : callable
        Rows of data, float32 (rows, columns) -> ``Z``, float64 (rows, components).
    predict : callable
        ``Z`` -> the model's outputs, float64 (rows, outputs).
    gradient : callable
        (``Z``, weights) -> gradient of ``sum(output * weights)`` per row, (rows, components).
    """

    owners: tuple[tuple[int, ...], ...]
    layers: tuple[str, ...]
    encode: Callable[[NDArray[np.float32]], NDArray[np.float64]]
    predict: Callable[[NDArray[np.float32]], NDArray[np.float64]]
    gradient: Callable[[NDArray[np.float32], NDArray[np.float32]], NDArray[np.float64]]


@dataclass(frozen=True)
class _Frontier:
    tensor: Any
    slots: frozenset[str]
    layer: str


def gradient_space(
    keras_model: Any,
    slots: Sequence[InputSlot],
    columns: Sequence[str],
    prepare: Callable[[Any], Any],
    batch_rows: int,
) -> GradientSpace | None:
    """The split of ``keras_model`` (named inputs ``slots``, data ``columns`` in the order
    rows come in, ``prepare`` the traced splitter), or None when every column is
    differentiable as it is (all inputs are floats feeding differentiable layers).

    Raises
    ------
    UnsupportedModelError
        When the model's graph cannot be split there (it is not a functional model, or
        a path from an input to the output bypasses every differentiable tensor).
    """
    import keras

    from importance_tasks.keras.backends import current

    own, cut = _frontier(keras_model)
    if not cut and len(own) == len(keras_model.inputs):
        return None
    frontier = own + cut
    tensors = [f.tensor for f in frontier]
    with graph_unchanged(keras_model):
        try:
            encoder = keras.Model(keras_model.inputs, tensors)
            head = keras.Model(tensors, keras_model.outputs)
        except ValueError as exc:
            raise UnsupportedModelError(
                f"the model cannot be split after its preprocessing layers ({exc}); gradients "
                "cannot reach its string or integer columns"
            ) from None
    unknown = [f.layer or str(f.tensor.name) for f in frontier if None in tuple(f.tensor.shape[1:])]
    if unknown:
        raise UnsupportedModelError(
            f"the first differentiable tensors after {unknown} have a width unknown until the "
            "model runs; integrated gradients needs fixed widths there"
        )
    shapes = [tuple(int(d) for d in t.shape[1:]) for t in tensors]
    sizes = [int(np.prod(s)) for s in shapes]
    position = {c: j for j, c in enumerate(columns)}
    by_name = {s.name: s for s in slots}
    owners: list[tuple[int, ...]] = []
    layers: list[str] = []
    for f, size in zip(frontier, sizes, strict=True):
        owned = sorted(position[c] for name in f.slots for c in by_name[name].columns)
        is_input = any(f.tensor is t for t in keras_model.inputs) and len(owned) == size
        owners.extend([(j,) for j in owned] if is_input else [tuple(owned)] * size)
        layers.extend([f.layer] * size)

    def flatten(parts: Any) -> Any:
        parts = parts if isinstance(parts, (list, tuple)) else [parts]
        flat = [
            keras.ops.reshape(keras.ops.cast(p, "float32"), (-1, n))
            for p, n in zip(parts, sizes, strict=True)
        ]
        return keras.ops.concatenate(flat, axis=1)

    def unflatten(z: Any) -> list[Any]:
        pieces = keras.ops.split(z, np.cumsum(sizes)[:-1].tolist(), axis=1)
        return [keras.ops.reshape(p, (-1, *s)) for p, s in zip(pieces, shapes, strict=True)]

    def head_of(z: Any) -> Any:
        return head(unflatten(z), training=False)

    backend = current()
    width = sum(sizes)
    encode_fn = backend.compiled(
        lambda x: flatten(encoder(prepare(x), training=False)), [(None, len(columns))]
    )
    head_fn = backend.compiled(head_of, [(None, width)])
    gradient_fn = backend.gradient_of(head_of, [(None, width), (None, None)])

    def batched(fn: Any, *arrays: NDArray[Any]) -> NDArray[np.float64]:
        parts = [
            fn(*(np.ascontiguousarray(a[i : i + batch_rows], np.float32) for a in arrays))
            for i in range(0, arrays[0].shape[0], batch_rows)
        ]
        out = np.concatenate(parts)
        return out[:, None] if out.ndim == 1 else out

    return GradientSpace(
        owners=tuple(owners),
        layers=tuple(layers),
        encode=lambda X: batched(encode_fn, X),
        predict=lambda Z: batched(head_fn, Z),
        gradient=lambda Z, W: batched(gradient_fn, Z, W),
    )


def _frontier(keras_model: Any) -> tuple[list[_Frontier], list[_Frontier]]:
    """The float inputs fed to differentiable layers, and the first float tensors after
    non-differentiable preprocessing; each with the inputs it depends on."""
    by_depth = getattr(keras_model, "_nodes_by_depth", None)
    if not by_depth:
        raise UnsupportedModelError(
            "integrated gradients through preprocessing layers needs a functional Keras model "
            "(keras.Model(inputs, outputs)); this one has no graph to split"
        )
    deps: dict[int, frozenset[str]] = {}
    raw: set[int] = set()
    for tensor in keras_model.inputs:
        deps[id(tensor)] = frozenset({str(tensor.name)})
        if str(tensor.dtype) not in _FLOATS:
            raw.add(id(tensor))
    frontier: list[_Frontier] = []
    differentiable_use: set[int] = set()
    for depth in sorted(by_depth, reverse=True):
        for node in by_depth[depth]:
            inputs = [t for t in node.input_tensors if id(t) in deps]
            if not inputs:
                continue
            used = frozenset().union(*(deps[id(t)] for t in inputs))
            cutting = type(node.operation).__name__ in CUTTING_LAYERS or any(
                id(t) in raw for t in inputs
            )
            if not cutting:
                differentiable_use.update(id(t) for t in inputs)
            for out in node.output_tensors:
                deps[id(out)] = used
                if cutting and str(out.dtype) in _FLOATS:
                    frontier.append(_Frontier(out, used, node.operation.name))
                elif cutting:
                    raw.add(id(out))
    own = [
        _Frontier(t, deps[id(t)], "")
        for t in keras_model.inputs
        if id(t) in differentiable_use and id(t) not in raw
    ]
    return own, frontier
