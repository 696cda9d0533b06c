"""A ``.keras`` file and its evaluation data, for ``importance-tasks explain --model F.keras``:
each output the targets ask for, as a model bound to its data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from importance_tasks.config import AnalysisConfig
from importance_tasks.data import EvalData, read_eval_data, unnamed_columns_warning
from importance_tasks.errors import InputError
from importance_tasks.keras import load_keras_file
from importance_tasks.keras.heads import Head
from importance_tasks.keras.keras_model import heads_of
from importance_tasks.model import Model
from importance_tasks.tables import table_columns
from importance_tasks.windows import WINDOW_SUFFIXES, read_windows

__all__ = ["keras_file_heads"]


def keras_file_heads(
    path: str, data_path: str | None, config: AnalysisConfig, targets: list[str]
) -> tuple[list[tuple[Head, Model, EvalData]], dict[str, Any]]:
    """The outputs of the model in ``path`` that ``targets`` ask for (its one output; with
    several, the columns named like them when no target is given), each with its data from
    ``data_path``; and what to print beside. A column named like an output not analysed is
    left out of the features, with a warning."""
    keras_model = load_keras_file(path).with_steps(config.sequence_length)  # before the data
    window = keras_model.window
    slots = keras_model.slots or ()
    beside = next((s for s in slots if s.steps), None)  # a window input beside columns
    static = [c for s in slots if not s.steps for c in s.columns] if beside else []
    if beside is not None:
        window = (beside.steps, beside.width // beside.steps)
    several = keras_model.output_names if len(keras_model.output_names) > 1 else ()
    present = table_columns(Path(data_path)) if several and data_path else []
    if not targets and several and all(c in present for c in several):
        targets = list(several)  # the columns named like the outputs
    windows = window is not None and Path(data_path or "").suffix in WINDOW_SUFFIXES
    if not data_path or not (targets or windows):
        raise InputError("--data and --target are needed with a .keras file")
    names = config.feature_names if keras_model.slots is None or beside else None
    ignored = [c for c in several if c not in targets and c in present]
    if window is not None:
        data = read_windows(
            data_path, steps=window[0], target=targets or None,
            feature_names=names, windowing=config.windowing, static=static,
        )  # fmt: skip
    else:
        data = read_eval_data(data_path, target=targets, feature_names=names, ignore=ignored)
    heads = heads_of(keras_model, data, targets or ["y"])
    for column in ignored:
        print(f"warning: column {column!r} is the model's output {column!r}, not analysed "
              "here: it was left out of the features", file=sys.stderr)  # fmt: skip
    checked = keras_model.slots is not None or config.feature_names is not None
    if not checked and window is None:  # a window's variables: in the data's order
        print(f"warning: {unnamed_columns_warning(heads[0][1].n_features)}", file=sys.stderr)
    return heads, {"feature_names_checked": checked}
