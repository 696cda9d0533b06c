"""A model's several outputs (heads), each analysed as a model of its own.

A Keras model built with several outputs (``keras.Model(x, [price, churn])`` or a dict of
outputs) is analysed one output at a time: ``head_model`` builds the model from the same
inputs to one output, sharing its layers and weights, so that every method, the low-rank
updates and the sanity check see a model with one output. ``match_heads`` pairs the outputs
with the target columns: by the outputs' names, else by order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from importance_tasks.errors import DataError, UnsupportedModelError

__all__ = ["Head", "head_model", "match_heads", "output_names"]


@dataclass(frozen=True)
class Head:
    """One output analysed: ``key`` names it in results (the output's name, or its target
    column where outputs were matched by order), ``index`` its place among the model's
    outputs, ``target`` the data column it is scored against."""

    key: str
    index: int
    target: str


def output_names(keras_model: Any) -> tuple[str, ...]:
    """The names of a model's outputs in their order: a dict's keys as the model was built
    with them, else the output layers' names. One name for a model with one output."""
    struct = getattr(keras_model, "_outputs_struct", None)
    if isinstance(struct, dict):
        return tuple(str(k) for k in struct)
    outputs = list(getattr(keras_model, "outputs", None) or [])
    names = [str(n) for n in getattr(keras_model, "output_names", None) or []]
    if len(outputs) > 1 and len(names) != len(outputs):
        names = [str(o.name) for o in outputs]
    return tuple(names) if len(outputs) > 1 else tuple(names[:1]) or ("output",)


def head_model(keras_model: Any, index: int) -> Any:
    """The model from the same inputs to its output ``index``, sharing layers and weights."""
    import keras

    struct = getattr(keras_model, "_outputs_struct", None)
    tensors = list(struct.values()) if isinstance(struct, dict) else list(keras_model.outputs)
    try:
        return keras.Model(keras_model.input, tensors[index])
    except (ValueError, TypeError, AttributeError) as exc:
        raise UnsupportedModelError(
            f"output {index} of the model cannot be taken as a model of its own ({exc}); build "
            "the model with keras.Model(inputs, outputs) so that each output can be analysed"
        ) from exc


def match_heads(names: Sequence[str], targets: Sequence[str]) -> list[Head]:
    """Pair a model's outputs ``names`` with ``targets``: by name when every target names an
    output, else by order when there is one target per output and none names an output (a
    target named like another output than its place's would be scored against the wrong
    one).

    Raises
    ------
    DataError
        When neither matches, naming the outputs and how to give the targets.
    """
    if len(set(targets)) != len(targets):
        raise DataError(f"target columns repeat: {list(targets)}")
    named = [t for t in targets if t in names]
    if len(named) == len(targets):
        return [Head(t, names.index(t), t) for t in targets]
    if len(targets) == len(names) and not named:
        return [Head(t, i, t) for i, t in enumerate(targets)]
    if len(names) == 1:
        raise DataError(
            f"the model has one output but {len(targets)} targets {list(targets)} were given; "
            "give one target column"
        )
    unmatched = [t for t in targets if t not in names]
    raise DataError(
        f"the model has {len(names)} outputs {list(names)}, and the targets {unmatched} name "
        f"none of them; give one target column per output in that order (--target repeated, "
        f"or target: [{', '.join(names)}] with your columns), or targets named like the outputs "
        "to analyse some of them"
    )
