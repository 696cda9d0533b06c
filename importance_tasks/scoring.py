"""Losses computed with scikit-learn's metrics, checked against the model's output.

Every scorer is turned into a loss (lower is better) so that importance is always
"how much worse the model gets"; for a higher-is-better score the loss is its negative,
which gives exactly the numbers of ``sklearn.inspection.permutation_importance``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from importance_tasks.errors import InputError

__all__ = ["SCORERS", "SCORING_SCHEMA", "Scorer", "get_scorer", "infer_task", "per_output_scoring"]

Task = Literal["regression", "classification"]
Array = NDArray[Any]


@dataclass(frozen=True)
class Scorer:
    """A scikit-learn metric seen as a loss of the model's raw output.

    Attributes
    ----------
    name : str
        ``mse``, ``mae``, ``r2``, ``log_loss``, ``accuracy``, ``class_probability`` or
        ``roc_auc``.
    task : {"regression", "classification"}
    greater_is_better : bool
        Whether the metric itself is a score (the loss is then its negative).
    """

    name: str
    task: Task
    greater_is_better: bool
    _metric: Callable[..., float] | None = None
    _rows: Callable[[Array, Array], Array] | None = None

    @property
    def mean_over_rows(self) -> bool:
        """Whether the metric is a (weighted) mean of per-row losses, so that losses over
        parts of the rows combine into the loss over all of them."""
        return self._rows is not None

    def row_losses(self, y: Array, output: Array) -> NDArray[np.float64]:
        """The per-row losses whose (weighted) mean is ``loss``: shape (n_rows,).

        Raises
        ------
        InputError
            For a metric that is not a mean over rows (r2, roc_auc).
        """
        if self._rows is None:
            raise InputError(f"scoring={self.name!r} is not a mean of per-row losses")
        rows = self._rows(y, output)
        return -rows if self.greater_is_better else rows

    def check(self, output: Array, y: Array) -> None:
        """Raise ``ValueError`` naming the problem when this scorer cannot score ``output``.

        Parameters
        ----------
        output : ndarray of shape (n_rows, n_outputs)
            The model's raw output on the evaluation rows.
        y : ndarray of shape (n_rows,) or (n_rows, n_targets)
        """
        n_out = output.shape[1]
        if self.task == "regression":
            n_targets = 1 if y.ndim == 1 else y.shape[1]
            if n_out != n_targets:
                hint = (
                    " It looks like a classifier: use log_loss, accuracy or roc_auc."
                    if n_targets == 1
                    else ""
                )
                raise InputError(
                    f"scoring={self.name!r} compares {n_targets} target column(s) with the "
                    f"model's {n_out} output(s).{hint}"
                )
            if not np.issubdtype(y.dtype, np.number):
                raise InputError(f"scoring={self.name!r} needs a numeric target, got {y.dtype}")
            return
        lo, hi = float(np.min(output)), float(np.max(output))
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise InputError(
                f"scoring={self.name!r} needs class probabilities, but the model's output "
                f"ranges over [{lo:.3g}, {hi:.3g}]. End the model in a sigmoid/softmax, "
                "or use a regression scorer (mse, mae, r2)."
            )
        if y.ndim != 1:
            raise InputError(f"scoring={self.name!r} needs one label column, got {y.shape[1]}")
        n_classes = max(n_out, 2)
        if not np.all(np.isin(y, np.arange(n_classes))):
            found = np.unique(y)[:10]
            raise InputError(
                f"scoring={self.name!r}: the model has {n_classes} classes, so labels must be "
                f"integers 0..{n_classes - 1}; found {found.tolist()}"
            )
        if self.name == "roc_auc" and np.unique(y).size < 2:
            raise InputError("scoring='roc_auc' needs at least two classes among the labels")

    def loss(self, y: Array, output: Array, sample_weight: Array | None = None) -> float:
        """The loss of ``output`` (shape (n_rows, n_outputs)) against ``y``; lower is better."""
        if self._rows is not None:
            return float(np.average(self.row_losses(y, output), weights=sample_weight))
        assert self._metric is not None
        value = float(self._metric(y, output, sample_weight))
        return -value if self.greater_is_better else value


def _regression(metric: Callable[..., float]) -> Callable[..., float]:
    def score(y: Array, output: Array, sample_weight: Array | None) -> float:
        pred = output[:, 0] if y.ndim == 1 else output
        return metric(y, pred, sample_weight=sample_weight)

    return score


def _probabilities(output: Array) -> Array:
    if output.shape[1] == 1:
        return np.column_stack([1.0 - output[:, 0], output[:, 0]])
    return output


# The losses that are means over rows are computed here in numpy, with scikit-learn's
# definitions (tests compare them with scikit-learn's functions): permutation and probe score
# thousands of perturbed copies, and scikit-learn's per-call input validation would cost more
# than the arithmetic. r2 and roc_auc go through scikit-learn itself. Several targets: the
# per-row loss is the mean over targets, as scikit-learn's uniform average.
def _per_row(values: Array) -> NDArray[np.float64]:
    return values.mean(axis=1) if values.ndim == 2 else values


def _squared_error(y: Array, output: Array) -> NDArray[np.float64]:
    pred = output[:, 0] if y.ndim == 1 else output
    return _per_row((np.asarray(y, dtype=np.float64) - pred) ** 2)


def _absolute_error(y: Array, output: Array) -> NDArray[np.float64]:
    pred = output[:, 0] if y.ndim == 1 else output
    return _per_row(np.abs(np.asarray(y, dtype=np.float64) - pred))


def _log_loss(y: Array, output: Array) -> NDArray[np.float64]:
    proba = np.asarray(_probabilities(output), dtype=np.float64)
    # Keras' float32 softmax rows sum to 1 only to ~1e-7: renormalise in float64, then clip
    # as scikit-learn's log_loss does.
    proba = proba / proba.sum(axis=1, keepdims=True)
    eps = np.finfo(np.float64).eps
    true = np.clip(proba[np.arange(len(proba)), np.asarray(y).astype(np.intp)], eps, 1 - eps)
    return -np.log(true)


def _class_probability(y: Array, output: Array) -> NDArray[np.float64]:
    proba = np.asarray(_probabilities(output), dtype=np.float64)
    return proba[np.arange(len(proba)), np.asarray(y).astype(np.intp)]


def _accuracy(y: Array, output: Array) -> NDArray[np.float64]:
    hit = _probabilities(output).argmax(axis=1) == np.asarray(y).astype(np.intp)
    return hit.astype(np.float64)


def _roc_auc(y: Array, output: Array, sample_weight: Array | None) -> float:
    from sklearn.metrics import roc_auc_score

    proba = np.asarray(_probabilities(output), dtype=np.float64)
    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1], sample_weight=sample_weight))
    proba = proba / proba.sum(axis=1, keepdims=True)
    return float(
        roc_auc_score(
            y,
            proba,
            sample_weight=sample_weight,
            multi_class="ovr",
            labels=np.arange(proba.shape[1]),
        )
    )


def _sk(name: str) -> Callable[..., float]:
    def metric(*args: Any, **kwargs: Any) -> float:
        import sklearn.metrics

        return float(getattr(sklearn.metrics, name)(*args, **kwargs))

    return metric


SCORERS: dict[str, Scorer] = {
    "mse": Scorer("mse", "regression", False, _rows=_squared_error),
    "mae": Scorer("mae", "regression", False, _rows=_absolute_error),
    "r2": Scorer("r2", "regression", True, _regression(_sk("r2_score"))),
    "log_loss": Scorer("log_loss", "classification", False, _rows=_log_loss),
    "accuracy": Scorer("accuracy", "classification", True, _rows=_accuracy),
    # The probability the model gives each row's label (the monitor's label-free output: the
    # drop of the predicted class's probability).
    "class_probability": Scorer(
        "class_probability", "classification", True, _rows=_class_probability
    ),
    "roc_auc": Scorer("roc_auc", "classification", True, _roc_auc),
}
_DEFAULT = {"regression": "mse", "classification": "log_loss"}


def infer_task(output: Array, y: Array) -> Task:
    """Guess the task from the model's output and the target.

    Classification when the output is a probability vector (several columns summing to 1)
    or a single probability in [0, 1] against 0/1 labels; regression otherwise.
    """
    in_unit = bool(np.all((output >= -1e-6) & (output <= 1 + 1e-6)))
    if output.shape[1] > 1 and y.ndim == 1:
        return "classification"
    if output.shape[1] == 1 and y.ndim == 1 and in_unit and np.all(np.isin(y, (0, 1))):
        return "classification"
    return "regression"


def get_scorer(scoring: str, *, output: Array, y: Array) -> Scorer:
    """Return the scorer named ``scoring`` (or the task's default for ``"auto"``), checked.

    Raises
    ------
    ValueError
        When the name is unknown or the scorer does not fit the model's output.
    """
    if scoring == "auto":
        scoring = _DEFAULT[infer_task(output, y)]
    if scoring not in SCORERS:
        raise InputError(
            f"scoring={scoring!r} is not known; choose one of: auto, {', '.join(SCORERS)}"
        )
    scorer = SCORERS[scoring]
    scorer.check(output, y)
    return scorer


SCORING_CHOICES = ("auto", *SCORERS)
# The scoring setting: one loss for every output, or one per output by its name.
SCORING_SCHEMA = {
    "type": ["string", "object"],
    "anyOf": [
        {"type": "string", "enum": list(SCORING_CHOICES)},
        {
            "type": "object",
            "additionalProperties": {"type": "string", "enum": list(SCORING_CHOICES)},
            "minProperties": 1,
        },
    ],
}


def per_output_scoring(
    scoring: str | Mapping[str, str],
    output: str | None,
    *,
    outputs: Sequence[str] | None = None,
) -> str:
    """The scoring of ``output`` (``auto`` where a mapping names it not); with ``outputs``
    (those analysed), a mapping naming others is refused (``InputError``)."""
    if isinstance(scoring, str):
        return scoring
    unknown = [k for k in scoring if outputs is not None and k not in outputs]
    if unknown:
        raise InputError(
            f"scoring names outputs {unknown} that are not analysed; the outputs analysed are "
            f"{list(outputs or [])}"
        )
    return scoring.get(output or "", "auto")
