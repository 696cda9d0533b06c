"""The evaluation data of a model version: where it is, its target, its columns checked.

Without an explicit ``data_uri``, the data is what the model's run logged: a dataset input in
one of the evaluation contexts whose source holds the rows (a file, an artifact, a ``runs:/``,
``mlflow-artifacts:`` or object-store URI), else a conventional artifact (``evaluation.parquet``,
``test.csv``, ...). ``mlflow.data.from_pandas`` without a ``source`` records a dataset whose
source is the code that logged it: its rows are not stored, and it is named in the error.

The target column comes from the call, else the run's ``target`` param or tag (MLflow does not
store a dataset's ``targets``), else the one column of the table that no model input takes,
when the inputs' names are known. What was used, and why, is recorded (``data_source``,
``target_source``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from importance_tasks.data import EvalData, read_eval_data, unnamed_columns_warning
from importance_tasks.errors import DataError, NeedsDataError
from importance_tasks.mlflow_io.feature_names import FeatureNames
from importance_tasks.tables import load_table, table_columns
from importance_tasks.windows import Windowing, read_windows

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from importance_tasks.mlflow_io.model_ref import ModelRef

__all__ = [
    "CONVENTIONAL_ARTIFACTS",
    "EVALUATION_CONTEXTS",
    "ColumnRule",
    "DataSource",
    "data_exists",
    "fetch_data",
    "fetch_window",
]

EVALUATION_CONTEXTS = ("evaluation", "test", "eval", "validation")
CONVENTIONAL_ARTIFACTS = tuple(
    f"{stem}.{ext}" for stem in ("evaluation", "test") for ext in ("parquet", "csv")
)
TARGET_KEYS = ("target", "target_column")
_WITHOUT_ROWS = {"code"}  # dataset sources that record where a table was made, not its rows


@dataclass(frozen=True)
class ColumnRule:
    """How the table's columns are matched to the model's inputs.

    ``model_columns``: the columns a model with named inputs takes (None for one matrix
    input, taken by position). ``names``: the matrix input's column names, when known.
    ``width``: how many columns the matrix input takes (a sequence model's variables, with
    ``steps`` its window's length: the table is cut into windows by ``windowing``).
    ``in_order``: with no names, take the table's columns in their order (else refused,
    ``NeedsDataError``). A window input beside named inputs: ``model_columns`` are the
    others' (static, at each window's last row), ``names`` names the window's variables.
    """

    width: int
    model_columns: tuple[str, ...] | None = None
    names: FeatureNames | None = None
    in_order: bool = False
    steps: int | None = None  # a sequence model's window: ``width`` variables x ``steps``
    windowing: Windowing = field(default_factory=Windowing)
    outputs: tuple[str, ...] = ()  # a model's several outputs: their columns are no features

    @property
    def ordering(self) -> list[str]:
        """A sequence table's time and series columns: neither a feature nor the target."""
        return [c for c in (self.windowing.time_column, self.windowing.series_column) if c]


@dataclass(frozen=True)
class DataSource:
    """The evaluation data, checked against the model's columns, and where it came from."""

    data: EvalData
    uri: str
    targets: tuple[str, ...]
    data_source: str
    target_source: str
    names_source: str | None  # None: the columns were taken in the table's order, unchecked
    ignored: tuple[str, ...] = ()  # columns of outputs not analysed, left out of the features

    @property
    def target(self) -> str:
        """The target column (several: comma-separated, as shown)."""
        return ",".join(self.targets)

    @property
    def names_checked(self) -> bool:
        return self.names_source is not None

    def warnings(self) -> list[str]:
        found = [
            f"column {c!r} is the model's output {c!r}, not analysed here: it was left out of "
            "the features (add it to the targets to analyse that output too)"
            for c in self.ignored
        ]
        if not self.names_checked:
            found.append(unnamed_columns_warning(len(self.data.feature_names)))
        return found


def fetch_data(
    client: MlflowClient,
    ref: ModelRef,
    *,
    data_uri: str | None,
    target: str | Sequence[str] | None,
    columns: ColumnRule,
) -> DataSource:
    """Find, read and check the evaluation table (see the module's docstring).

    Raises
    ------
    NeedsDataError
        No logged data with readable rows, no target column, or (for a matrix input) no names
        for its columns without ``in_order``: what the version's owner has to log.
    DataError
        The table does not fit the model (columns missing, extra, the wrong count).
    """
    run = client.get_run(ref.run_id) if ref.run_id else None
    if data_uri:
        uri, data_source = _given(data_uri), "given (data_uri)"
    else:
        uri, data_source = _logged_data(client, ref, run)
    with _local_copy(client, uri) as path:
        table = table_columns(path)
        targets, target_source = _targets(ref, run, target, table, columns)
        if columns.steps is not None:  # the window's settings before the column names
            columns.windowing.check(table, targets)
        inputs = columns.model_columns or ()
        ignored = tuple(c for c in columns.outputs if c in table and c not in [*targets, *inputs])
        expected, names_source = _expected_columns(columns, [*targets, *ignored], table)
        if columns.steps is None:
            data = read_eval_data(path, target=targets, feature_names=expected, ignore=ignored)
        else:
            named = columns.names.names if columns.model_columns and columns.names else expected
            data = read_windows(
                path, steps=columns.steps, target=targets, feature_names=named,
                windowing=columns.windowing, static=columns.model_columns or (),
            )  # fmt: skip
    return DataSource(data, uri, tuple(targets), data_source, target_source, names_source, ignored)


def fetch_window(
    client: MlflowClient,
    ref: ModelRef,
    *,
    data_uri: str,
    targets: Sequence[str],
    columns: ColumnRule,
) -> tuple[DataSource, bool]:
    """A window of new data, read and checked like the evaluation data (``fetch_data``, with
    its targets), and whether it holds them. Production rows usually have no target yet: a
    window without its target columns, or with any row's target not filled in, is read with
    each target column a placeholder (0), for the caller to replace by the model's own
    prediction (``monitor.labels``)."""
    uri = _given(data_uri)
    with _local_copy(client, uri) as path:
        labelled = all(t in table_columns(path) for t in targets)
        if labelled:  # the target columns alone: whether every row's is filled in
            labelled = not load_table(path, columns=targets).isna().to_numpy().any()
        if labelled:
            source = fetch_data(
                client, ref, data_uri=str(path), target=list(targets), columns=columns
            )
        else:
            frame = load_table(path)
            for name in targets:
                frame[name] = 0.0
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / "window.parquet"
                frame.to_parquet(copy, index=False)
                source = fetch_data(
                    client, ref, data_uri=str(copy), target=list(targets), columns=columns
                )
    return dataclasses.replace(source, uri=uri, data_source="given (data_uri)"), labelled


def data_exists(client: MlflowClient, uri: str) -> bool:
    """Whether a table is at ``uri`` yet: a local file, or an artifact MLflow lists (a URI it
    cannot list is taken as there, and reading it says what is wrong)."""
    import mlflow

    local = _local_path(_given(uri))
    if local is not None:
        return local.is_file()
    parent, _, name = uri.rstrip("/").rpartition("/")
    try:
        listed = mlflow.artifacts.list_artifacts(
            artifact_uri=parent, tracking_uri=client.tracking_uri
        )
    except Exception:  # an object store MLflow cannot list here: let the read say why
        return True
    return any(Path(item.path).name == name for item in listed)


def _local_path(uri: str) -> Path | None:
    """The file a plain path or ``file://`` URI names; None for any other URI (an artifact
    or object store, read through MLflow)."""
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    if "://" in uri or ":/" in uri:
        return None
    return Path(uri)


def _given(uri: str) -> str:
    """A local path as an absolute path (a later task, in another folder, reads it too)."""
    if "://" in uri or ":/" in uri:
        return uri
    return str(Path(uri).expanduser().resolve())


def _logged_data(client: MlflowClient, ref: ModelRef, run: Any) -> tuple[str, str]:
    """The URI of the logged evaluation data and a description of what was chosen and why."""
    found: list[tuple[int, str, str]] = []  # (context rank, uri, description)
    refused: list[str] = []
    for dataset_input in run.inputs.dataset_inputs if run and run.inputs else []:
        context = {t.key: t.value for t in dataset_input.tags}.get("mlflow.data.context")
        if context not in EVALUATION_CONTEXTS:
            continue
        dataset = dataset_input.dataset
        described = (
            f"dataset {dataset.name!r} (context {context}, digest {dataset.digest}) "
            f"of run {run.info.run_id}"
        )
        uri = _source_uri(dataset)
        if uri is None:
            why = (
                "which does not hold its rows"
                if dataset.source_type in _WITHOUT_ROWS
                else "which is not a file URI (parquet or CSV) this stage reads"
            )
            refused.append(f"{described} has a {dataset.source_type!r} source, {why}")
        elif _unreadable_local(uri):
            refused.append(f"{described} points at {uri}, which this worker cannot read")
        else:
            found.append((EVALUATION_CONTEXTS.index(str(context)), uri, described))
    if found:
        found.sort(key=lambda f: f[0])
        _, uri, described = found[0]
        others = [f[2] for f in found[1:]] + refused
        if others:
            described += (
                f", chosen by context (in order {', '.join(EVALUATION_CONTEXTS)}) over "
                + "; ".join(others)
            )
        return uri, described
    if run is not None:
        run_id = run.info.run_id
        artifacts = {a.path for a in client.list_artifacts(run_id)}
        for name in CONVENTIONAL_ARTIFACTS:
            if name in artifacts:
                return f"runs:/{run_id}/{name}", f"artifact {name} of run {run_id}"
    seen = f" Found: {'; '.join(refused)}." if refused else ""
    where = f"run {run.info.run_id}" if run is not None else "the version (it has no run)"
    raise NeedsDataError(
        f"no evaluation data for {ref.uri}.{seen} Log the table where this worker can read "
        f"it: as an artifact of {where} (mlflow.log_artifact) named one of "
        f"{list(CONVENTIONAL_ARTIFACTS)}, or as a dataset input with context 'evaluation' "
        "whose source is that file's URI (mlflow.log_input(mlflow.data.from_pandas(df, "
        "source=URI), context='evaluation')); or pass data_uri (--data)"
    )


def _source_uri(dataset: Any) -> str | None:
    if dataset.source_type in _WITHOUT_ROWS:
        return None
    try:
        source = json.loads(dataset.source)
    except (TypeError, json.JSONDecodeError):
        return None
    uri = (source.get("uri") or source.get("url")) if isinstance(source, dict) else None
    return str(uri) if uri else None


def _unreadable_local(uri: str) -> bool:
    path = _local_path(uri)
    return path is not None and not path.is_file()


def _targets(
    ref: ModelRef,
    run: Any,
    given: str | Sequence[str] | None,
    table: Sequence[str],
    columns: ColumnRule,
) -> tuple[list[str], str]:
    """The target column(s) and where they came from: given; else the run's ``target`` param
    or tag (comma-separated for several outputs); else the columns named like the model's
    several outputs; else the one column no model input takes."""
    if given:
        return ([given] if isinstance(given, str) else list(given)), "given (target)"
    for kind, values in (("param", run.data.params), ("tag", run.data.tags)) if run else ():
        for key in TARGET_KEYS:
            if values.get(key):
                text = str(values[key])
                found = [t.strip() for t in text.split(",")] if columns.outputs else [text]
                return found, f"the {key!r} {kind} of run {run.info.run_id}"
    if columns.outputs and all(o in table for o in columns.outputs):
        return list(columns.outputs), "the columns named like the model's outputs"
    names = columns.names
    exact = names is not None and (not names.may_hold_target or len(names.names) == columns.width)
    inputs = columns.model_columns or (names.names if names and exact else None)
    left = [c for c in table if inputs is not None and c not in [*inputs, *columns.ordering]]
    if len(left) == 1 and inputs is not None:
        return left, "the one column of the table that no model input takes"
    known = "" if inputs is None else f" ({len(left)} columns no model input takes: {left})"
    raise NeedsDataError(
        f"no target column for {ref.uri}{known}: pass target (--target), or log a 'target' "
        "param in the model's run (MLflow does not store a dataset's targets)"
    )


def _expected_columns(
    columns: ColumnRule, left_out: Sequence[str], table: Sequence[str]
) -> tuple[list[str] | None, str | None]:
    """The feature columns the table must hold, in the model's order (None: the table's own
    order, or by name for named inputs), and where their names came from."""
    if columns.model_columns is not None:
        return None, "the model's named inputs"
    mismatch = ""
    if columns.names is not None:
        names = list(columns.names.without([*left_out, *columns.ordering]))
        if len(names) == columns.width:
            return names, columns.names.source
        mismatch = (
            f"{columns.names.source} names {len(names)} input columns {names}, but the model "
            f"takes {columns.width}"
        )
        if not columns.names.may_hold_target:  # a record of this model's inputs that is wrong
            raise DataError(f"{mismatch}; give the right ones with feature_names (--feature-names)")
    if not columns.in_order:
        # A dataset's schema of another width describes another table, not the model's inputs.
        found = f" ({mismatch}: another table)" if mismatch else ""
        raise NeedsDataError(
            f"nothing names the model's {columns.width} input columns{found} (its signature is "
            "tensor-only, and no input example, 'feature_names' tag or param, or training "
            "dataset schema holds them), so the table's columns "
            f"{[c for c in table if c not in [*left_out, *columns.ordering]]} cannot be checked: "
            "give feature_names "
            "(--feature-names a,b,...), or columns_in_model_order=true "
            "(--columns-in-model-order) to take them in the table's order"
        )
    return None, None


@contextlib.contextmanager
def _local_copy(client: MlflowClient, uri: str) -> Iterator[Path]:
    """The table at ``uri`` as a local file (downloaded into a temporary folder)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    local = _local_path(uri)
    if local is not None:
        yield local
        return
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=tmp, tracking_uri=client.tracking_uri
            )
        except MlflowException as exc:
            if exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
                raise DataError(f"evaluation data {uri} not found: {exc.message}") from None
            raise
        yield Path(path)
