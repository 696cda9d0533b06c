"""Values of the data that a model's lookup layers have no entry for.

A ``StringLookup`` or ``IntegerLookup`` maps a value it was not adapted on to its
out-of-vocabulary index: the model answers, but for a value it never saw (a ``region`` of
``mars``). Such rows are analysed, not refused; ``unseen_values`` counts them per column so
that the result can say so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from importance_tasks.data import EvalData
    from importance_tasks.model import Model

__all__ = ["unseen_values"]

_LOOKUPS = ("StringLookup", "IntegerLookup")


def unseen_values(model: Model, data: EvalData) -> dict[str, int]:
    """Per data column read by a lookup layer straight from a named input, the rows whose
    value is not in the layer's vocabulary (columns without such rows left out)."""
    keras_model = getattr(model, "keras_model", None)
    if keras_model is None or not getattr(model, "slots", None):
        return {}
    position = {name: j for j, name in enumerate(data.feature_names)}
    inputs = {id(t): t.name.split(":")[0] for t in keras_model.inputs}
    found: dict[str, int] = {}
    for layer in keras_model.layers:
        if type(layer).__name__ not in _LOOKUPS or layer.invert:
            continue
        for node in getattr(layer, "_inbound_nodes", ()):
            for tensor in node.input_tensors:
                column = _input_name(tensor, inputs)
                if column is None or column not in position:
                    continue
                values = _column_values(data, column, position[column])
                known = _vocabulary(layer)
                count = int((~np.isin(values, known)).sum())
                if count:
                    found[column] = found.get(column, 0) + count
    return found


def _input_name(tensor: Any, inputs: dict[int, str]) -> str | None:
    """The named input ``tensor`` is, or None for an intermediate tensor."""
    name = inputs.get(id(tensor))
    if name is not None:
        return name
    history = getattr(tensor, "_keras_history", None)
    operation = getattr(history, "operation", None)
    if operation is None or type(operation).__name__ != "InputLayer":
        return None
    return str(operation.name)


def _column_values(data: EvalData, column: str, j: int) -> np.ndarray:
    """The column's values as the model receives them: a coded column's own values."""
    codes = data.X[:, j]
    vocabulary = data.categories.get(column)
    if vocabulary is None:
        return codes.astype(np.int64)
    return np.asarray(vocabulary)[codes.astype(np.int64)]


def _vocabulary(layer: Any) -> np.ndarray:
    """The values the layer has entries for (its out-of-vocabulary and mask tokens left
    out)."""
    words = list(layer.get_vocabulary(include_special_tokens=False))
    if type(layer).__name__ == "StringLookup":
        return np.array([w.decode() if isinstance(w, bytes) else str(w) for w in words])
    return np.array(words, dtype=np.int64)
