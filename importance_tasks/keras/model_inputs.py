"""How a Keras model's inputs map to the columns of the evaluation data.

A model with one input of shape (None, k) takes the data's k feature columns by position, as
it was trained. A model with several named inputs (Keras' structured-data style: one
``keras.Input`` per column, often with preprocessing layers inside) takes each input from the
data column of the same name: an input of shape (None,) or (None, 1) is one column, one of
shape (None, k) is k columns named ``name[0]`` ... ``name[k-1]``. The methods still see one
float32 matrix; the traced forward pass slices it into the model's inputs (turning a coded
column's codes back into its strings, see ``importance_tasks.columns``), so perturbed copies
stay batched and gradients flow back to the numeric columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import missing_and_extra
from importance_tasks.errors import DataError, UnsupportedModelError

__all__ = ["InputSlot", "check_column_types", "column_order", "input_slots", "splitter"]

_FLOATS = {"float16", "float32", "float64", "bfloat16"}
_INTEGERS = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"}


@dataclass(frozen=True)
class InputSlot:
    """One named model input and the data columns it takes."""

    name: str
    width: int
    flat: bool  # shape (None,): one column given as a vector
    dtype: str

    @property
    def columns(self) -> tuple[str, ...]:
        if self.width == 1:
            return (self.name,)
        return tuple(f"{self.name}[{i}]" for i in range(self.width))


def input_slots(model: Any) -> tuple[InputSlot, ...] | None:
    """The named inputs of ``model``, or None for one input taken by position: a matrix
    (None, k), or windows (None, T, F) of a sequence model (``importance_tasks.windows``).

    Raises
    ------
    UnsupportedModelError
        For an image or sequence input, an input of another type than numbers, booleans or
        strings, or an input of unknown width; the message names the input.
    """
    inputs = list(getattr(model, "inputs", None) or [])
    if not inputs:
        raise UnsupportedModelError("the model declares no inputs; build it with keras.Input")
    only = inputs[0]
    if (
        len(inputs) == 1
        and len(only.shape) in (2, 3)
        and only.shape[-1] is not None  # a window's steps may be any (sequence_length)
        and str(only.dtype) in _FLOATS | _INTEGERS
    ):
        return None  # one matrix, or one window of (steps, variables): by position
    slots = []
    for tensor in inputs:
        name, shape, dtype = str(tensor.name), tuple(tensor.shape), str(tensor.dtype)
        if len(shape) == 1:
            width, flat = 1, True
        elif len(shape) == 2 and shape[1] is not None:
            width, flat = int(shape[1]), False
        else:
            raise UnsupportedModelError(
                f"input {name!r} has shape {shape}: image and sequence inputs are not supported; "
                "each input must be one column (None,) or (None, 1), or k columns (None, k)"
            )
        if dtype not in _FLOATS | _INTEGERS | {"string"}:
            raise UnsupportedModelError(
                f"input {name!r} takes {dtype} values; inputs take numbers, booleans or strings"
            )
        slots.append(InputSlot(name, width, flat, dtype))
    return tuple(slots)


def column_order(
    slots: Sequence[InputSlot], data_columns: Sequence[str]
) -> NDArray[np.intp] | None:
    """For each model column in input order, its position among ``data_columns`` (None when
    they are already in that order).

    Raises
    ------
    DataError
        When the data lacks a column some input takes, or holds a column no input takes.
    """
    wanted = [c for slot in slots for c in slot.columns]
    missing, extra = missing_and_extra(data_columns, wanted)
    if missing or extra:
        raise DataError(
            f"the model's inputs take the columns {wanted}; the data lacks {missing} and has "
            f"{extra} that no input takes. Give the data one column per input, by name."
        )
    if list(data_columns) == wanted:
        return None
    position = {c: i for i, c in enumerate(data_columns)}
    return np.array([position[c] for c in wanted], dtype=np.intp)


def check_column_types(
    slots: Sequence[InputSlot],
    data_columns: Sequence[str],
    X: NDArray[np.float32],
    categories: Mapping[str, NDArray[Any]],
) -> None:
    """Refuse data whose columns do not fit the inputs' types, naming the column.

    A string input needs a column of strings; a numeric input a column of numbers (or of
    coded integers); an integer input whole numbers (a float cast to it would be truncated).
    """
    position = {c: j for j, c in enumerate(data_columns)}
    for slot in slots:
        for column in slot.columns:
            vocabulary = categories.get(column)
            holds_strings = vocabulary is not None and vocabulary.dtype.kind in "USO"
            if slot.dtype == "string" and not holds_strings:
                raise DataError(
                    f"input {slot.name!r} takes strings but column {column!r} holds numbers; "
                    "give the column as strings, the way the model was trained"
                )
            if slot.dtype != "string" and holds_strings:
                raise DataError(
                    f"input {slot.name!r} takes {slot.dtype} values but column {column!r} "
                    "holds strings"
                )
            if slot.dtype in _INTEGERS and vocabulary is None:
                values = X[:, position[column]]
                if (values % 1).any():
                    raise DataError(
                        f"input {slot.name!r} takes {slot.dtype} values but column {column!r} "
                        "holds fractions, which the model would truncate; give whole numbers"
                    )


def splitter(
    slots: Sequence[InputSlot],
    order: NDArray[np.intp] | None,
    vocabularies: Sequence[NDArray[Any] | None],
) -> Callable[[Any], dict[str, Any]]:
    """A TensorFlow function from the (rows, columns) float32 matrix in the data's column order
    to the model's inputs by name, each in its own shape and dtype. ``vocabularies`` holds, per
    model column in input order, the values its codes index (None for a numeric column)."""
    import tensorflow as tf

    lookups = [None if v is None else tf.constant(v) for v in vocabularies]

    def column(x: Any, j: int, dtype: str) -> Any:
        lookup = lookups[j]
        if lookup is None:
            return tf.cast(x[:, j], dtype)
        return tf.cast(tf.gather(lookup, tf.cast(x[:, j], tf.int32)), dtype)

    def split(x: Any) -> dict[str, Any]:
        if order is not None:
            x = tf.gather(x, order, axis=1)
        parts, start = {}, 0
        for slot in slots:
            span = range(start, start + slot.width)
            if all(lookups[j] is None for j in span):
                part = x[:, start] if slot.flat else x[:, start : start + slot.width]
                parts[slot.name] = tf.cast(part, slot.dtype)
            else:
                values = [column(x, j, slot.dtype) for j in span]
                parts[slot.name] = values[0] if slot.flat else tf.stack(values, axis=1)
            start += slot.width
        return parts

    return split
