"""The model's input column names, found where MLflow keeps them.

MLflow's Keras flavors record a tensor-only signature (shape and dtype, no names), so for a
model with one matrix input the names are looked for, in this order: a signature with one named
column per input; the input example (a split-orient table, ``{"columns": [...]}``); a
``feature_names`` tag of the version or tag/param of its run; the schema of a dataset input of
the model's run (``mlflow.log_input(mlflow.data.from_pandas(...))`` records the table's columns
in order, the target among them when it was in the table). Autologged datasets are numpy arrays
and carry no names. A source that names nothing is passed over, never guessed from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from importance_tasks.mlflow_io.model_ref import ModelRef

__all__ = ["FeatureNames", "logged_feature_names", "parse_names"]

NAMES_KEY = "feature_names"
# Dataset inputs whose schema names the model's inputs, the training data's first.
_CONTEXT_ORDER = ("training", "train", "evaluation", "test", "eval", "validation")


@dataclass(frozen=True)
class FeatureNames:
    """Column names of the model's inputs, in order, and where they were found.

    ``may_hold_target``: the names come from a table's schema, which may list the target
    column beside the inputs (drop it once the target is known).
    """

    names: tuple[str, ...]
    source: str
    may_hold_target: bool = False

    def without(self, targets: list[str]) -> tuple[str, ...]:
        if not self.may_hold_target:
            return self.names
        return tuple(n for n in self.names if n not in targets)


def logged_feature_names(
    client: MlflowClient, ref: ModelRef, local: Path, mlmodel: Mapping[str, Any]
) -> FeatureNames | None:
    """The first source of names that has them (see the module's docstring), or None."""
    inputs = json.loads((mlmodel.get("signature") or {}).get("inputs") or "[]")
    named = [spec["name"] for spec in inputs if "name" in spec and _one_column(spec)]
    if named and len(named) == len(inputs):
        return FeatureNames(tuple(named), "the model's signature")
    example = _example_columns(local / _example_path(mlmodel))
    if example:
        return FeatureNames(example, "the model's input example")
    mv = client.get_model_version(ref.name, ref.version)
    run = client.get_run(ref.run_id) if ref.run_id else None
    candidates = [(mv.tags.get(NAMES_KEY), f"the {NAMES_KEY!r} tag of {ref.uri}")]
    if run is not None:
        where = f"of run {run.info.run_id}"
        candidates += [
            (run.data.tags.get(NAMES_KEY), f"the {NAMES_KEY!r} tag {where}"),
            (run.data.params.get(NAMES_KEY), f"the {NAMES_KEY!r} param {where}"),
        ]
    for value, source in candidates:
        if value:
            return FeatureNames(parse_names(value), source)
    return None if run is None else _dataset_schema_names(run)


def _example_path(mlmodel: Mapping[str, Any]) -> str:
    info = mlmodel.get("saved_input_example_info") or {}
    return str(info.get("artifact_path") or "input_example.json")


def _example_columns(path: Path) -> tuple[str, ...] | None:
    """Column names of an input example: a split-orient table (``{"columns": ...}``, also
    under ``dataframe_split``). A numpy example (a list) and a dict of named inputs (a model
    with named inputs takes its names from the model itself) name no matrix columns."""
    if not path.is_file() or not path.stat().st_size:
        return None
    try:
        example = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    if isinstance(example, dict):
        example = example.get("dataframe_split", example)
    columns = example.get("columns") if isinstance(example, dict) else None
    if isinstance(columns, list) and columns:
        return tuple(map(str, columns))
    return None


def _dataset_schema_names(run: Any) -> FeatureNames | None:
    """Names from the column schema of one of the run's dataset inputs, training data first."""
    found = []
    for dataset_input in run.inputs.dataset_inputs if run.inputs else []:
        context = {t.key: t.value for t in dataset_input.tags}.get("mlflow.data.context", "")
        names = _colspec_names(dataset_input.dataset.schema)
        if names:
            rank = _CONTEXT_ORDER.index(context) if context in _CONTEXT_ORDER else 99
            found.append((rank, dataset_input.dataset.name, context, names))
    if not found:
        return None
    _, name, context, names = min(found, key=lambda f: f[0])
    shown = f" (context {context})" if context else ""
    return FeatureNames(
        names,
        f"the schema of dataset {name!r}{shown} of run {run.info.run_id}",
        may_hold_target=True,
    )


def _colspec_names(schema: str | None) -> tuple[str, ...] | None:
    try:
        columns = json.loads(schema or "{}").get("mlflow_colspec")
    except (json.JSONDecodeError, AttributeError):
        return None
    if not isinstance(columns, list) or not columns:
        return None
    names: list[Any] = [c.get("name") for c in columns if isinstance(c, dict)]
    if len(names) != len(columns) or not all(isinstance(n, str) and n for n in names):
        return None
    return tuple(names)


def _one_column(spec: dict[str, Any]) -> bool:
    """A signature entry that is one column: a column spec, or a named tensor of shape (-1,)
    or (-1, 1) (a Keras model's named input), not a matrix of several columns."""
    if spec.get("type") != "tensor":
        return True
    shape = list(spec.get("tensor-spec", {}).get("shape", []))
    return shape in ([-1], [-1, 1])


def parse_names(value: str) -> tuple[str, ...]:
    """``a,b,c`` or a JSON list."""
    text = value.strip()
    if text.startswith("["):
        return tuple(map(str, json.loads(text)))
    return tuple(part.strip() for part in text.split(",") if part.strip())
