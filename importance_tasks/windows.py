"""Windows of a sequence model: T steps x F variables, seen by the methods as one row of cells.

A forecaster over time windows (LSTM, GRU, Conv1D) takes inputs of shape (None, T, F). The
methods see one float32 matrix, so a window is one row of T*F cells in time-major order, the
oldest step first: cell ``var[t]`` is variable ``var`` at step ``t`` (``t = T-1`` the window's
last step). Each variable is the group of its T cells, so permuting or occluding a variable
acts on its whole window, integrated gradients sum over its steps, and SHAP, LIME and SAGE
treat its window as one player. ``KerasModel`` reshapes the rows back to (T, F) inside the
traced forward pass, so no method copies a window per step. The windows of a table are a
strided view of its rows (``window_rows``): a table of 1,000,000 steps x 20 variables is 80 MB
as windows of 48 steps too, not 3.8 GB (copied once, only the windows kept, when a series has
missing targets or there are several series).

Pre-windowed arrays come as ``.npz`` with ``X`` of shape (N, T, F) and ``y`` (N,) or (N, k);
the variables are named by ``feature_names``, else ``x0`` ... ``x{F-1}``. A long table (one row
per time step, one column per variable, the target) is cut into windows (``table_windows``): a
window ends at each row with T-1 rows before it in its series, and takes the target
``horizon`` rows after its last row. Rows are steps in the order of ``time_column``, or in
the table's order only when the user says they are (``rows_in_time_order``; without either
the table is refused: rows in no order would be cut into windows that mean nothing): a gap in
the time column is not filled, the rows on either side of it are consecutive steps.
``series_column`` separates several series (units, stores, sensors), which windows never
cross.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import EvalData, frame_columns
from importance_tasks.errors import DataError
from importance_tasks.tables import check_size, load_table

__all__ = [
    "WINDOW_SUFFIXES",
    "Windowing",
    "cell_names",
    "read_windows",
    "table_windows",
    "variables_of",
    "window_rows",
]

WINDOW_SUFFIXES = (".npz",)


def cell_names(variables: Sequence[str], steps: int) -> tuple[str, ...]:
    """The cells of a window in the order of its flattened rows: step by step, each step's
    variables in order."""
    return tuple(f"{variable}[{t}]" for t in range(steps) for variable in variables)


def variables_of(cells: Sequence[str], n_variables: int) -> tuple[str, ...]:
    """The variables of a window's cells (the names of step 0's cells, ``var[0]``)."""
    first = cells[:n_variables]
    if any(not c.endswith("[0]") for c in first):
        return tuple(f"x{i}" for i in range(n_variables))
    return tuple(c.removesuffix("[0]") for c in first)


@dataclass(frozen=True)
class Windowing:
    """How a long table becomes windows: the column that orders the rows, the one that
    separates series, how many rows after a window's last row its target lies, and the
    window's steps for a model that takes any length."""

    time_column: str | None = None
    series_column: str | None = None
    horizon: int = 0
    steps: int | None = None
    rows_in_time_order: bool = False

    def check(self, columns: Sequence[str], targets: Sequence[str]) -> None:
        """Refuse settings that contradict each other or name columns the table lacks, and a
        table whose rows have no order: before anything else about the table is checked.

        Raises
        ------
        DataError
            Naming the setting or column and what to give instead.
        """
        time, series = self.time_column, self.series_column
        if series and not time:
            raise DataError(
                f"series_column {series!r} needs a time_column: rows of several series arrive "
                "in any order, so the order of each series' rows must be given"
            )
        if self.horizon < 0:
            raise DataError(f"horizon must be >= 0 rows, got {self.horizon}")
        missing = [c for c in (*targets, time, series) if c and c not in columns]
        if missing:
            raise DataError(f"columns {missing} are not in the table; it has {list(columns)}")
        if not time and not self.rows_in_time_order:
            raise DataError(
                "a long table for a sequence model needs the order of its rows: give "
                "time_column (--time-column, and series_column for several series), or "
                "rows_in_time_order=true (--rows-in-time-order) if the rows are already one "
                "series in time order"
            )


def read_windows(
    path: str | Path,
    *,
    steps: int,
    target: str | Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    windowing: Windowing | None = None,
    static: Sequence[str] = (),
) -> EvalData:
    """A sequence model's evaluation data: pre-windowed arrays (``.npz``) or windows of
    ``steps`` rows cut from a table (parquet or CSV, with ``target``; ``static`` columns
    beside the windows, see ``table_windows``)."""
    path = Path(path)
    if path.suffix.lower() in WINDOW_SUFFIXES:
        if static:
            raise DataError(
                f"the model takes columns {list(static)} beside its window: give a long table "
                "(parquet or CSV) holding them, not windows in .npz"
            )
        return _npz_windows(path, feature_names, steps)
    if not target:
        raise DataError("--target names the table's target column (an .npz holds y itself)")
    frame = load_table(path)
    check_size(len(frame), frame.shape[1], path)  # windows are a view of it, or checked again
    return table_windows(
        frame, target=target, steps=steps, feature_names=feature_names,
        windowing=windowing or Windowing(), static=static,
    )  # fmt: skip


def table_windows(
    frame: Any,
    *,
    target: str | Sequence[str],
    steps: int,
    feature_names: Sequence[str] | None = None,
    windowing: Windowing,
    static: Sequence[str] = (),
) -> EvalData:
    """Windows of ``steps`` rows of ``frame`` (a DataFrame), each with the target
    ``windowing.horizon`` rows after its last row; windows whose target is missing are
    dropped (several targets, one per output of a model with several: a window missing any).
    The variables are ``feature_names``, else every column but the targets, time,
    series and ``static`` columns, in the table's order. ``static`` columns (the per-column
    inputs beside a window input) come first in each row, as at the window's last row, in
    their own types (strings coded, as ``EvalData.from_frame``).

    Raises
    ------
    DataError
        For a missing column, a series column without a time column, rows of no given order
        (``Windowing.check``), a time value twice in a series, or no series long enough for
        one window; the message names them.
    """
    time, series, horizon = windowing.time_column, windowing.series_column, windowing.horizon
    targets = [target] if isinstance(target, str) else list(target)
    windowing.check(list(frame.columns), targets)
    own = [c for c in (*targets, time, series, *static) if c]
    missing = [c for c in own if c not in frame.columns]
    if missing:
        raise DataError(f"columns {missing} are not in the table; it has {list(frame.columns)}")
    variables = list(feature_names or [c for c in frame.columns if c not in own])
    absent = [v for v in variables if v not in frame.columns]
    if absent:
        raise DataError(f"variables {absent} are not in the table; it has {list(frame.columns)}")
    words = [v for v in variables if not _numeric(frame[v])]
    if words:
        raise DataError(
            f"variables {words} are not numbers; a window takes numeric variables (encode them "
            "the way the model was trained, or leave them out with feature_names)"
        )
    parts = [frame] if not series else [g for _, g in frame.groupby(series, sort=False)]
    found: list[tuple[NDArray[np.float32], NDArray[Any]]] = []
    lasts: list[Any] = []  # each part's static columns at its windows' last rows
    for part in parts:
        if time:
            repeated = part[time][part[time].duplicated()]
            if len(repeated):
                where = f" in series {part[series].iloc[0]!r}" if series else ""
                raise DataError(
                    f"time column {time!r} repeats {repeated.tolist()[0]!r}{where}: each step of a "
                    "series needs its own time"
                )
            part = part.sort_values(time, kind="stable")
        n_windows = len(part) - steps + 1 - horizon
        if n_windows <= 0:
            continue
        values = part[variables].to_numpy(dtype=np.float32)
        ahead = part[targets[0] if len(targets) == 1 else targets].to_numpy()
        found.append(
            (window_rows(values, steps, n_windows), ahead[steps - 1 + horizon :][:n_windows])
        )
        lasts.append(part[list(static)].iloc[steps - 1 : steps - 1 + n_windows])
    if not found:
        unit = "every series has" if series else "the table has"
        raise DataError(
            f"{unit} fewer than {steps + horizon} rows: a window needs {steps} steps (the "
            f"model's input) and its target {horizon} rows after them"
        )
    kept = [~_missing(y) for _, y in found]
    if len(found) == 1 and kept[0].all():
        X = found[0][0]  # the table's rows themselves, no copy
    else:  # the windows kept, copied once into one matrix
        n_kept = sum(int(k.sum()) for k in kept)
        copied = Path(f"the copy of {n_kept:,} windows (several series, or windows dropped)")
        check_size(n_kept * steps, len(variables), copied)
        X = np.empty((n_kept, steps * len(variables)), np.float32)
        start = 0
        for (view, _), keep in zip(found, kept, strict=True):
            np.compress(keep, view, axis=0, out=X[start : start + int(keep.sum())])
            start += int(keep.sum())
    y = np.concatenate([y[keep] for (_, y), keep in zip(found, kept, strict=True)])
    names = cell_names(variables, steps)
    categories: dict[str, NDArray[Any]] = {}
    types: dict[str, str] = {}
    if static:
        import pandas as pd

        rows = pd.concat([last[keep] for last, keep in zip(lasts, kept, strict=True)])
        values, categories, types = frame_columns(rows)
        X, names = np.hstack([values, X]), (*static, *names)
    return EvalData(
        X=X,
        y=y.astype(np.float64) if y.dtype == object and y.ndim == 1 else y,
        feature_names=names,
        categories=categories,
        column_types=types,
    )


def window_rows(values: NDArray[np.float32], steps: int, n_windows: int) -> NDArray[np.float32]:
    """The first ``n_windows`` windows of ``steps`` consecutive rows of ``values`` (rows x
    variables) as rows of cells, without a copy: window i's cells are rows i..i+steps-1,
    which lie one after another in memory, so the matrix of windows is a strided view of the
    table, ``steps`` times smaller than its copy. Read-only: windows share their cells."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    cell = values.itemsize  # C order: cell (i, j) at (i * F + j) cells, whatever the strides
    return np.lib.stride_tricks.as_strided(  # say of an axis of length 1
        values,
        shape=(n_windows, steps * values.shape[1]),
        strides=(cell * values.shape[1], cell),
        writeable=False,
    )


def _numeric(column: Any) -> bool:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return bool(is_numeric_dtype(column) or is_bool_dtype(column))


def _missing(y: NDArray[Any]) -> NDArray[np.bool_]:
    import pandas as pd

    missing = np.asarray(pd.isna(y), dtype=bool)
    return missing if missing.ndim == 1 else np.asarray(missing.any(axis=1), dtype=bool)


def _npz_windows(path: Path, feature_names: Sequence[str] | None, steps: int) -> EvalData:
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
    if X.shape[1] != steps:
        raise DataError(f"the windows in {path} have {X.shape[1]} steps; the model takes {steps}")
    n_variables = int(X.shape[2])
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
