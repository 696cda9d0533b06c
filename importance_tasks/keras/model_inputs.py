"""How a Keras model's inputs map to the columns of the evaluation data.

A model with one input of shape (None, k) takes the data's k feature columns by position, as
it was trained. A model with several named inputs (Keras' structured-data style: one
``keras.Input`` per column, often with preprocessing layers inside) takes each input from the
data column of the same name: an input of shape (None,) or (None, 1) is one column, one of
shape (None, k) is k columns named ``name[0]`` ... ``name[k-1]``, and one of shape (None, T, k)
beside them a window of k variables over T steps (cells ``var[t]``, the variables named by the
data: ``named_windows``). The methods still see one
float32 matrix; the traced forward pass slices it into the model's inputs (turning a coded
column's codes back into its strings, see ``importance_tasks.columns``), so perturbed copies
stay batched and gradients flow back to the numeric columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import missing_and_extra
from importance_tasks.errors import DataError, UnsupportedModelError
from importance_tasks.windows import cell_names, variables_of

__all__ = [
    "InputSlot",
    "check_column_types",
    "column_order",
    "input_slots",
    "named_windows",
    "splitter",
]

_FLOATS = {"float16", "float32", "float64", "bfloat16"}
_INTEGERS = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"}


@dataclass(frozen=True)
class InputSlot:
    """One named model input and the data columns it takes. A window input (None, T, k)
    takes T x k cells ``var[t]`` of its k variables (``steps`` T; ``variables`` named by
    the data, ``named_windows``)."""

    name: str
    width: int
    flat: bool  # shape (None,): one column given as a vector
    dtype: str
    steps: int = 0  # a window input's steps (0: not a window)
    variables: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        if self.steps:
            k = self.width // self.steps
            return cell_names(self.variables or [f"{self.name}_{i}" for i in range(k)], self.steps)
        if self.width == 1:
            return (self.name,)
        return tuple(f"{self.name}[{i}]" for i in range(self.width))


def named_windows(slots: Sequence[InputSlot], columns: Sequence[str]) -> tuple[InputSlot, ...]:
    """``slots`` with a window input's variables named by the data's ``columns``: the cells
    no other input takes, time-major (``importance_tasks.windows.cell_names``).

    Raises
    ------
    DataError
        When those cells are not one window's: another count, or not named ``var[t]``.
    """
    windows = [s for s in slots if s.steps]
    if not windows:
        return tuple(slots)
    if len(windows) > 1:
        raise UnsupportedModelError(
            f"inputs {[s.name for s in windows]} are both windows; one window input beside "
            "per-column inputs is supported"
        )
    (window,) = windows
    taken = {c for s in slots if not s.steps for c in s.columns}
    cells = [c for c in columns if c not in taken]
    k = window.width // window.steps
    variables = variables_of(cells, k) if len(cells) == window.width else ()
    if not variables or tuple(cells) != cell_names(variables, window.steps):
        raise DataError(
            f"input {window.name!r} takes windows of {window.steps} steps x {k} variables, but "
            f"the data's columns no other input takes are {cells[:8]}"
            f"{'...' if len(cells) > 8 else ''} ({len(cells)}); give a long table with a "
            "time_column (the variables: the columns no other input takes, or feature_names)"
        )
    return tuple(dataclasses.replace(s, variables=variables) if s is window else s for s in slots)


def input_slots(model: Any) -> tuple[InputSlot, ...] | None:
    """The named inputs of ``model``, or None for one input taken by position: a matrix
    (None, k), or windows (None, T, F) of a sequence model (``importance_tasks.windows``).

    Raises
    ------
    UnsupportedModelError
        For an image input, an input of another type than numbers, booleans or strings, or
        an input of unknown width; the message names the input.
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
        steps = 0
        if len(shape) == 1:
            width, flat = 1, True
        elif len(shape) == 2 and shape[1] is not None:
            width, flat = int(shape[1]), False
        elif len(shape) == 3 and None not in shape[1:] and dtype in _FLOATS | _INTEGERS:
            steps, width, flat = int(shape[1]), int(shape[1]) * int(shape[2]), False
        else:
            raise UnsupportedModelError(
                f"input {name!r} has shape {shape}: image inputs, and windows of any length "
                "beside other inputs, are not supported; each input must be one column (None,) "
                "or (None, 1), k columns (None, k), or one window of numbers (None, T, k)"
            )
        if dtype not in _FLOATS | _INTEGERS | {"string"}:
            raise UnsupportedModelError(
                f"input {name!r} takes {dtype} values; inputs take numbers, booleans or strings"
            )
        slots.append(InputSlot(name, width, flat, dtype, steps))
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
            holds_strings = _holds_strings(vocabulary)
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
    """A function of tensors (``keras.ops``) from the (rows, columns) float32 matrix in the
    data's column order to the model's inputs by name, each in its own shape and dtype.
    ``vocabularies`` holds, per model column in input order, the values its codes index (None
    for a numeric column)."""
    import keras

    lookups = [None if v is None else _vocabulary_tensor(v) for v in vocabularies]
    strings = [_holds_strings(v) for v in vocabularies]
    ops = keras.ops

    def column(x: Any, j: int, dtype: str) -> Any:
        lookup = lookups[j]
        if lookup is None:
            return ops.cast(x[:, j], dtype)
        codes = ops.cast(x[:, j], "int32")
        if strings[j]:
            return _strings_at(lookup, codes)
        return ops.cast(ops.take(lookup, codes), dtype)

    def split(x: Any) -> dict[str, Any]:
        if order is not None:
            x = ops.take(x, order, axis=1)
        parts, start = {}, 0
        for slot in slots:
            span = range(start, start + slot.width)
            if slot.steps:  # rows of cells back to windows (steps, variables)
                shape = (-1, slot.steps, slot.width // slot.steps)
                part = ops.reshape(x[:, start : start + slot.width], shape)
                parts[slot.name] = ops.cast(part, slot.dtype)
            elif all(lookups[j] is None for j in span):
                part = x[:, start] if slot.flat else x[:, start : start + slot.width]
                parts[slot.name] = ops.cast(part, slot.dtype)
            else:
                values = [column(x, j, slot.dtype) for j in span]
                parts[slot.name] = values[0] if slot.flat else ops.stack(values, axis=1)
            start += slot.width
        return parts

    return split


def _vocabulary_tensor(vocabulary: NDArray[Any]) -> Any:
    """A coded column's values as a constant tensor; strings only on TensorFlow, the one
    backend with string tensors (a model taking strings loads only there)."""
    import keras

    if _holds_strings(vocabulary):
        import tensorflow as tf

        return tf.constant(vocabulary.astype(str))
    return keras.ops.convert_to_tensor(vocabulary)


def _holds_strings(vocabulary: NDArray[Any] | None) -> bool:
    """Whether a coded column's values are strings (else numbers, or no vocabulary)."""
    return vocabulary is not None and vocabulary.dtype.kind in "USO"


def _strings_at(vocabulary: Any, codes: Any) -> Any:
    """``vocabulary[codes]`` for strings (``tf.gather``: ``keras.ops`` has no string tensors)."""
    import tensorflow as tf

    return tf.gather(vocabulary, codes)
