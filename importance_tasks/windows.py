"""Windows of a sequence model: T steps x F variables, seen by the methods as one row of cells.

A forecaster over time windows (LSTM, GRU, Conv1D) takes inputs of shape (None, T, F). The
methods see one float32 matrix, so a window is one row of T*F cells in time-major order, the
oldest step first: cell ``var[t]`` is variable ``var`` at step ``t`` (``t = T-1`` the window's
last step). Each variable is the group of its T cells, so permuting or occluding a variable
acts on its whole window, integrated gradients sum over its steps, and SHAP, LIME and SAGE
treat its window as one player. ``KerasModel`` reshapes the rows back to (T, F) inside the
traced forward pass, so no method copies a window per step.

Pre-windowed arrays come as ``.npz`` with ``X`` of shape (N, T, F) and ``y`` (N,) or (N, k);
the variables are named by ``feature_names``, else ``x0`` ... ``x{F-1}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from importance_tasks.data import EvalData
from importance_tasks.errors import DataError

__all__ = ["WINDOW_SUFFIXES", "cell_names", "read_windows", "variable_cells", "variables_of"]

WINDOW_SUFFIXES = (".npz",)


def cell_names(variables: Sequence[str], steps: int) -> tuple[str, ...]:
    """The cells of a window in the order of its flattened rows: step by step, each step's
    variables in order."""
    return tuple(f"{variable}[{t}]" for t in range(steps) for variable in variables)


def variable_cells(variables: Sequence[str], steps: int) -> dict[str, tuple[str, ...]]:
    """Each variable and its T cells, oldest first: the groups the methods rank."""
    return {variable: tuple(f"{variable}[{t}]" for t in range(steps)) for variable in variables}


def variables_of(cells: Sequence[str], n_variables: int) -> tuple[str, ...]:
    """The variables of a window's cells (the names of step 0's cells, ``var[0]``)."""
    first = cells[:n_variables]
    if any(not c.endswith("[0]") for c in first):
        return tuple(f"x{i}" for i in range(n_variables))
    return tuple(c.removesuffix("[0]") for c in first)


def read_windows(path: str | Path, *, feature_names: Sequence[str] | None = None) -> EvalData:
    """Pre-windowed evaluation data: ``X`` (N, T, F) and ``y`` from a ``.npz`` file.

    Raises
    ------
    DataError
        When the file is missing or unreadable, lacks ``X`` or ``y``, ``X`` is not 3-D, the
        row counts differ, or ``feature_names`` does not name the F variables.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no data file at {path}")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable .npz file of arrays: {exc}") from None
    missing = [key for key in ("X", "y") if key not in found]
    if missing:
        raise DataError(
            f"{path} lacks the array(s) {missing}; it needs X of shape (windows, steps, "
            f"variables) and y (windows,); it holds {sorted(found)}"
        )
    X, y = found["X"], found["y"]
    if X.ndim != 3:
        raise DataError(
            f"X in {path} has shape {X.shape}; windows need (windows, steps, variables)"
        )
    if len(y) != len(X):
        raise DataError(f"{path} holds {len(X)} windows in X but {len(y)} targets in y")
    steps, n_variables = int(X.shape[1]), int(X.shape[2])
    if feature_names is None:
        variables = tuple(f"x{i}" for i in range(n_variables))
    else:
        variables = tuple(feature_names)
        if len(variables) != n_variables:
            raise DataError(
                f"feature_names names {len(variables)} variables but the windows in {path} "
                f"have {n_variables}: {list(variables)}"
            )
    return EvalData(
        X=np.ascontiguousarray(X.reshape(len(X), steps * n_variables), dtype=np.float32),
        y=y,
        feature_names=cell_names(variables, steps),
    )
