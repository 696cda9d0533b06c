"""The explained output without labels: the model's own prediction on the unchanged rows.

Production windows usually have no target yet. The output explained is then the prediction:
its value for a regression or sigmoid head, the predicted class's probability for a softmax
head. Labelling each row with the model's prediction on it makes every method measure that
output: permutation and probe the mean absolute change of the prediction (``mae``; for a
softmax head the mean drop of the predicted class's probability, ``class_probability``), SHAP,
integrated gradients and LIME attribute the value (or the predicted class, as they attribute a
label's class), and SAGE and the other loss-based methods take the unchanged row's prediction
as the label.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum

import numpy as np

from importance_tasks.data import EvalData
from importance_tasks.model import Model

__all__ = ["Mode", "labelled_by_model"]

SOFTMAX_SUM = 1e-3  # how far from 1 a row of class probabilities may sum (float32 rounding)


class Mode(StrEnum):
    """What an analysis of a window explains: the model's output, or its loss (labels)."""

    OUTPUT = "output"
    LOSS = "loss"


def labelled_by_model(model: Model, data: EvalData) -> tuple[EvalData, str]:
    """``data`` labelled with the model's prediction, and the scoring that measures the
    explained output's change (see the module)."""
    output = np.asarray(model.predict(data.X), dtype=np.float64)
    if output.shape[1] > 1 and _softmax(output):
        labels = output.argmax(axis=1)
        return dataclasses.replace(data, y=labels), "class_probability"
    labels = output[:, 0] if output.shape[1] == 1 else output
    return dataclasses.replace(data, y=labels), "mae"


def _softmax(output: np.ndarray) -> bool:
    in_unit = bool(((output >= -1e-6) & (output <= 1 + 1e-6)).all())
    return in_unit and bool(np.abs(output.sum(axis=1) - 1.0).max() <= SOFTMAX_SUM)
