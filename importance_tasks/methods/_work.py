"""The work a method will do, decided before it starts from the model and the data alone.

A method that samples (rows explained, orderings) sizes its samples from what one model
evaluation costs, counted from the model's layers (``importance_tasks.keras.cost``), never from
a clock: the same model, data and settings give the same work, and so the same numbers, on any
worker under any load. Work is counted in multiply-adds and spoken of in *reference seconds*:
the multiply-adds this project's 2-core benchmark machine runs per second in a Keras forward
pass (``REFERENCE_MACS_PER_S``, measured on the benchmark's 100- and 500-feature models:
3.0e10 and 4.1e10). A constant, so a slower or busier worker does the same work in more time.
"""

from __future__ import annotations

from typing import Any

from importance_tasks.contract import MethodStatus
from importance_tasks.keras.keras_model import first_dense_of
from importance_tasks.methods.base import option
from importance_tasks.model import Model

__all__ = [
    "REFERENCE_MACS_PER_S",
    "evaluation_cost",
    "guard_status",
    "multiply_adds_in",
    "passed",
    "state_cost",
    "time_guard",
]

REFERENCE_MACS_PER_S = 3.0e10
# A model whose layers cannot be read (a plain function): costed as a Dense layer of this many
# units on its inputs.
UNREAD_UNITS = 64
# A coalition walk's state through a first Dense layer costs the rest of the network plus the
# running sum's update, measured at 0.35-0.45 us per state of 128 units on the benchmark
# machine: about this many multiply-adds per unit.
RUNNING_SUM_PER_UNIT = 32


def evaluation_cost(model: Model) -> float:
    """Multiply-adds of one row through the whole model."""
    keras_model = getattr(model, "keras_model", None)
    if keras_model is None:
        return float(UNREAD_UNITS * max(model.n_features, 1))
    from importance_tasks.keras.cost import multiply_adds

    return float(multiply_adds(keras_model))


def state_cost(model: Model) -> float:
    """Multiply-adds of one state of a coalition walk (``importance_tasks.methods.walks``):
    through a first Dense layer, the rest of the network and the running sum's update;
    otherwise a whole evaluation."""
    full = evaluation_cost(model)
    first = first_dense_of(model)
    if first is None:
        return full
    units = first.kernel.shape[1]
    return max(full - first.kernel.size, 1.0) + RUNNING_SUM_PER_UNIT * units


def multiply_adds_in(seconds: float) -> float:
    """The multiply-adds of ``seconds`` reference seconds."""
    return seconds * REFERENCE_MACS_PER_S


def time_guard() -> Any:
    """The ``time_budget_s`` option of a method that can be stopped (0 = no guard): when it is
    passed, the method ends as ``incomplete`` (``guard_status``); it never sizes the work."""
    return option(
        0.0,
        help="a guard in seconds, not a size: once passed, the method stops and its result is "
        "incomplete (0: no guard)",
        schema={"type": "number", "minimum": 0},
    )


def guard_status(done: int, planned: int, unit: str, seconds: float) -> tuple[str, str]:
    """The status of a method that did ``done`` of its ``planned`` ``unit`` (rows,
    orderings) before its time guard of ``seconds`` ended it, or complete."""
    if done >= planned:
        return (MethodStatus.COMPLETE, "")
    return (
        MethodStatus.INCOMPLETE,
        f"time_budget_s={seconds:g} ended it after {done} of {planned} {unit}; the numbers "
        "would differ on another worker (raise or remove the guard)",
    )


def passed(started: float, seconds: float) -> bool:
    """Whether a time guard of ``seconds`` (0 = none) has passed since ``started``."""
    import time

    return bool(seconds) and time.perf_counter() - started > seconds
