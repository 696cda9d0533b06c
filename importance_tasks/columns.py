"""Columns of any type in one float32 matrix: numbers as themselves, other values as codes.

The methods perturb one (rows, features) float32 matrix. Numbers, booleans and integers up to
2**24 are carried exactly by float32. A column of strings (object, pandas ``string`` or
``category``, Arrow strings), or of integers beyond 2**24, is *coded*: the matrix holds each
value's index into the column's vocabulary (its sorted distinct values), and the model adapter
turns codes back into the raw values inside the traced forward pass. A shuffle, a background
draw or a mode then moves whole values, never a blend of two categories, and the model sees
strings as ``tf.string`` tensors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.errors import DataError

__all__ = ["FLOAT32_EXACT", "code_column", "coded_ints", "describe", "row_type"]

# Integers whose magnitude is at most this are exact in float32.
FLOAT32_EXACT = 2**24


def code_column(name: str, values: NDArray[Any]) -> tuple[NDArray[np.float32], NDArray[Any]]:
    """The codes of ``values`` (float32) and the vocabulary they index (sorted distinct values).

    Raises
    ------
    DataError
        When the column holds missing values, or strings mixed with other values; both name
        the column.
    """
    values = np.asarray(values)
    if values.dtype == object:
        missing = sum(v is None or (isinstance(v, float) and v != v) for v in values)
        if missing:
            raise DataError(
                f"column {name!r} has {missing} missing values (None/NaN) among its strings; "
                "fill them with a category the model knows (e.g. its OOV token) or drop those rows"
            )
        others = sorted({type(v).__name__ for v in values if not isinstance(v, str)})
        if others:
            raise DataError(
                f"column {name!r} holds {others} values besides strings; give it one type "
                "(all strings, or all numbers)"
            )
        values = values.astype(str)
    vocabulary, codes = np.unique(values, return_inverse=True)
    return codes.reshape(-1).astype(np.float32), vocabulary


def coded_ints(values: NDArray[Any]) -> bool:
    """Whether integer ``values`` leave float32's exact range (and so must be coded)."""
    if values.size == 0 or not np.issubdtype(values.dtype, np.integer):
        return False
    return bool(max(abs(int(values.min())), abs(int(values.max()))) > FLOAT32_EXACT)


def describe(categories: Mapping[str, NDArray[Any]], name: str, kind: str) -> str:
    """A column's type for people: ``string (12 values)`` for a coded column, else the type."""
    vocabulary = categories.get(name)
    return kind if vocabulary is None else f"{kind} ({len(vocabulary)} values)"


def row_type(feature: str, types: Mapping[str, str], groups: Mapping[str, Sequence[str]]) -> str:
    """The type of a result row: its column's type, or ``group of k`` for a group."""
    if feature in types:
        return types[feature]
    return f"group of {len(groups[feature])}" if feature in groups else ""
