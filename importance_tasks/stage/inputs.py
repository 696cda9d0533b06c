"""The registered model and its evaluation data, loaded and checked against each other."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from importance_tasks.config import AnalysisConfig
from importance_tasks.data import EvalData
from importance_tasks.errors import DataError, InputError
from importance_tasks.keras.keras_model import KerasModel, heads_of
from importance_tasks.mlflow_io.client import access
from importance_tasks.mlflow_io.evaluation_data import ColumnRule, DataSource, fetch_data
from importance_tasks.mlflow_io.feature_names import FeatureNames
from importance_tasks.mlflow_io.model_ref import ModelRef, ModelSpec
from importance_tasks.mlflow_io.registry import LoadedModel, fetch_model, resolve_model
from importance_tasks.model import Model
from importance_tasks.scoring import get_scorer
from importance_tasks.windows import Windowing

__all__ = ["Inputs", "data_digest", "load_inputs", "own_data_digest"]

# Rows hashed at a time (a contiguous block is hashed in place).
DIGEST_ROWS = 65_536
# Rows the model is run on at plan time to check the scoring against its output.
SCORING_CHECK_ROWS = 10_000


@dataclass(frozen=True)
class Inputs:
    """A pinned model version, loaded, with its evaluation data and where that came from.

    ``heads``: each output analysed (its key -> the model to that output alone and the data
    with its target), when several are; empty for an analysis of one output, whose model and
    data are ``model`` and ``data``.
    """

    ref: ModelRef
    loaded: LoadedModel
    model: Model  # the loaded model taking the data's columns (by name for named inputs)
    source: DataSource
    one_target: EvalData
    heads: Mapping[str, tuple[Model, EvalData]] = field(default_factory=dict)
    # How the table's columns were read (to read the version's own table the same way).
    columns: ColumnRule | None = None

    @property
    def data(self) -> EvalData:
        """The rows with the target of ``model`` (the first output's, when several)."""
        return self.one_target

    @property
    def data_uri(self) -> str:
        return self.source.uri

    @property
    def target(self) -> str:
        return self.source.target

    @property
    def outputs(self) -> dict[str, str]:
        """Each output analysed -> its target column (empty for one output)."""
        return dict(zip(self.heads, self.source.targets, strict=True)) if self.heads else {}

    def for_output(self, output: str | None) -> tuple[Model, EvalData]:
        """The model and data of one output (None: the analysis of one output)."""
        if output is None:
            return self.model, self.data
        if output not in self.heads:
            raise InputError(f"output {output!r} is not analysed here: {list(self.heads)}")
        return self.heads[output]

    def check_scoring(self, config: AnalysisConfig) -> None:
        """Refuse a scoring that does not fit an output (``InputError``), before anything is
        computed or logged."""
        config.check_outputs(list(self.heads) or [self.target])
        for output in self.heads or [None]:
            model, data = self.for_output(output)
            rows = data.X[:SCORING_CHECK_ROWS]
            found = model.predict(np.asarray(rows, dtype=np.float32))
            scoring = config.scoring_for(output or self.target)
            try:
                get_scorer(scoring, output=found, y=data.y[:SCORING_CHECK_ROWS])
            except InputError as exc:
                raise type(exc)(f"output {output!r}: {exc}" if output else str(exc)) from None


def data_digest(data: EvalData) -> str:
    """A digest of the evaluation rows, columns, the coded columns' values, and the target
    (first 16 hex digits of SHA-256)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(list(data.feature_names)).encode())
    for start in range(0, data.n_rows, DIGEST_ROWS):  # a view of windows: never copied whole
        digest.update(np.ascontiguousarray(data.X[start : start + DIGEST_ROWS]).data)
    for name in sorted(data.categories):  # codes alone would not see a renamed category
        digest.update(json.dumps([name, data.categories[name].tolist()]).encode())
    digest.update(
        np.ascontiguousarray(data.y).astype(np.float64, copy=False).tobytes()
        if np.issubdtype(data.y.dtype, np.number)
        else data.y.astype(str).tobytes()
    )
    return digest.hexdigest()[:16]


def load_inputs(
    client: Any,
    model: ModelSpec | ModelRef | str,
    *,
    data_uri: str | None = None,
    target: str | Sequence[str] | None = None,
    trust_pyfunc: bool = False,
    feature_names: Sequence[str] | None = None,
    columns_in_model_order: bool = False,
    windowing: Windowing | None = None,
) -> Inputs:
    """Pin ``model`` (unless already pinned), load it safely, load its data, check both.

    A model with named inputs takes its columns by name (checked when it is bound to the
    data); a model with one matrix input takes them by the names ``feature_names`` gives, else
    those MLflow recorded (``mlflow_io.feature_names``), in any order. With no names at all,
    the table's order is taken only with ``columns_in_model_order`` (``NeedsDataError``
    otherwise). A sequence model's table is cut into windows by ``windowing``; its variables
    are matched like a matrix input's columns. A model with several outputs is analysed for
    the outputs the targets name (``keras.heads.match_heads``); a column named like another
    output is no feature.
    """

    with access(f"read the registered model {str(model)!r}", "READ (on the registered model)"):
        ref = model if isinstance(model, ModelRef) else resolve_model(client, model)
        loaded = fetch_model(client, ref, trust_pyfunc=trust_pyfunc)
    windowing = windowing or Windowing()
    if isinstance(loaded.model, KerasModel):  # a model of any length takes sequence_length
        loaded = dataclasses.replace(loaded, model=loaded.model.with_steps(windowing.steps))
    window = getattr(loaded.model, "window", None)
    slots = getattr(loaded.model, "slots", None) or ()
    # A window input beside per-column inputs: those columns are static, the rest variables.
    beside = next((s for s in slots if s.steps), None)
    if beside is not None:
        window = (beside.steps, beside.width // beside.steps)
    given = None if feature_names is None else FeatureNames(tuple(feature_names), "feature_names")
    outputs = getattr(loaded.model, "output_names", ())
    rule = ColumnRule(
        width=loaded.model.n_features if window is None else window[1],
        model_columns=tuple(c for s in slots if not s.steps for c in s.columns) or None,
        names=given if beside is not None else given or loaded.feature_names,
        in_order=columns_in_model_order,
        steps=None if window is None else window[0],
        windowing=windowing,
        outputs=outputs if len(outputs) > 1 else (),
    )
    source = fetch_data(client, ref, data_uri=data_uri, target=target, columns=rule)
    found = heads_of(loaded.model, source.data, source.targets)
    _, bound, data = found[0]
    heads = {head.key: (m, d) for head, m, d in found} if len(found) > 1 else {}
    return Inputs(ref, loaded, bound, source, data, heads, rule)


def own_data_digest(client: Any, inputs: Inputs) -> str | None:
    """The digest of the evaluation data the version's run logged, read with the targets and
    columns ``inputs`` were read with; None when the version logged none that can be read and
    fits the model."""
    if inputs.columns is None:
        return None
    try:
        own = fetch_data(
            client, inputs.ref, data_uri=None, target=list(inputs.source.targets),
            columns=inputs.columns,
        )  # fmt: skip
    except DataError:  # none logged, or none that fits the model: the given table is its data
        return None
    return data_digest(own.data)
