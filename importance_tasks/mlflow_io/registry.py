"""Reading from the registry: pin a model version, load it safely, find its evaluation data."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from importance_tasks.errors import DataError, RegistryError, UnsafeModelError
from importance_tasks.model import CallableModel, Model

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from importance_tasks.data import EvalData

__all__ = [
    "EVALUATION_CONTEXTS",
    "LoadedModel",
    "ModelRef",
    "ModelSpec",
    "fetch_data",
    "fetch_model",
    "model_id_of",
    "resolve_model",
]

EVALUATION_CONTEXTS = ("evaluation", "test", "eval", "validation")
CONVENTIONAL_ARTIFACTS = tuple(
    f"{stem}.{ext}" for stem in ("evaluation", "test") for ext in ("parquet", "csv")
)
_MODEL_ID = re.compile(r"^models:/(m-[0-9a-f]+)$")


@dataclass(frozen=True)
class ModelSpec:
    """A registered model as a user names it: a name and exactly one of alias and version."""

    name: str
    alias: str | None = None
    version: str | None = None

    def __post_init__(self) -> None:
        if not self.name or (self.alias is None) == (self.version is None):
            raise RegistryError(
                f"model {self.name!r} needs exactly one of alias and version (got "
                f"alias={self.alias!r}, version={self.version!r}); a version is always pinned"
            )
        if self.version is not None:
            object.__setattr__(self, "version", str(self.version))
            if not str(self.version).isdigit():
                raise RegistryError(f"version {self.version!r} of {self.name!r} is not a number")

    @classmethod
    def parse(cls, spec: str) -> ModelSpec:
        """``NAME@ALIAS``, ``NAME/VERSION`` or a ``models:/`` URI of either."""
        text = spec.strip().removeprefix("models:/")
        name, at, alias = text.rpartition("@")
        if at and name and alias:
            return cls(name, alias=alias)
        head, slash, tail = text.rpartition("/")
        if not at and slash and head and tail.isdigit():
            return cls(head, version=tail)
        raise RegistryError(
            f"model {spec!r} must be NAME@ALIAS, NAME/VERSION or models:/NAME@ALIAS "
            "(a version is pinned, never 'latest')"
        )

    def __str__(self) -> str:
        return f"{self.name}@{self.alias}" if self.alias else f"{self.name}/{self.version}"


@dataclass(frozen=True)
class ModelRef:
    """A pinned registered model version (what a plan carries from task to task)."""

    name: str
    version: str
    source: str
    run_id: str | None
    model_id: str | None
    alias: str | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, str | None]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelRef:
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            source=str(data.get("source") or ""),
            run_id=data.get("run_id"),
            model_id=data.get("model_id"),
            alias=data.get("alias"),
        )


def resolve_model(client: MlflowClient, spec: ModelSpec | str) -> ModelRef:
    """Pin ``spec`` to one model version; the error for a missing one lists what exists."""
    from mlflow.exceptions import MlflowException

    if isinstance(spec, str):
        spec = ModelSpec.parse(spec)
    name, alias, version = spec.name, spec.alias, spec.version
    try:
        registered = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        names = [m.name for m in client.search_registered_models(max_results=200)]
        close = difflib.get_close_matches(name, names, n=5)
        listed = close or names[:20]
        raise RegistryError(
            f"no registered model named {name!r}; "
            + (f"did you mean {listed}?" if close else f"registered models: {listed}")
        ) from None
    if alias is not None:
        aliases = dict(registered.aliases or {})
        if alias not in aliases:
            raise RegistryError(
                f"model {name!r} has no alias {alias!r}; its aliases are "
                f"{ {k: str(v) for k, v in sorted(aliases.items())} }"
            )
        version = str(aliases[alias])
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        versions = sorted(
            (v.version for v in client.search_model_versions(f"name = '{name}'")), key=int
        )
        raise RegistryError(
            f"model {name!r} has no version {version}; its versions are {versions}"
        ) from None
    return ModelRef(
        name, str(mv.version), mv.source or "", mv.run_id or None, model_id_of(mv), alias
    )


def model_id_of(version: Any) -> str | None:
    """The LoggedModel id of a model version: its ``model_id``, or the id in a
    ``models:/m-...`` source (versions registered from a logged model)."""
    match = _MODEL_ID.match(version.source or "")
    found = getattr(version, "model_id", None) or (match.group(1) if match else None)
    return None if found is None else str(found)


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for the methods, with what the registry says about its inputs."""

    model: Model
    flavor: str
    feature_names: tuple[str, ...] | None
    local_dir: Path


def cache_root() -> Path:
    return Path(os.environ.get("IMPORTANCE_TASKS_CACHE", Path.home() / ".cache/importance_tasks"))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def download_model(client: MlflowClient, ref: ModelRef) -> Path:
    """The model version's files in the local cache, downloaded once per machine.

    Parallel tasks wait on a file lock; the download goes to a temporary folder renamed into
    place when complete, so a killed download never leaves a half model behind.
    """
    import mlflow

    digest = hashlib.sha256(f"{client.tracking_uri}|{ref.name}".encode()).hexdigest()[:16]
    target = cache_root() / "models" / digest / ref.version
    with _locked(target.with_suffix(".lock")):
        if (target / "MLmodel").is_file():
            return target
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".download-"))
        try:
            mlflow.artifacts.download_artifacts(
                artifact_uri=ref.uri, dst_path=str(tmp), tracking_uri=client.tracking_uri
            )
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def fetch_model(client: MlflowClient, ref: ModelRef, *, trust_pyfunc: bool = False) -> LoadedModel:
    """Load the model version safely: Keras archives checked and loaded in safe mode.

    Both Keras flavors (``keras`` and ``tensorflow`` with ``model_type: keras``) are read as
    ``.keras`` archives. An exported SavedModel is refused (its graph is code). Any other pyfunc
    model loads only with ``trust_pyfunc=True``, since MLflow unpickles it.
    """
    import yaml

    from importance_tasks.safe_keras import load_keras_file

    local = download_model(client, ref)
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    flavors = mlmodel.get("flavors", {})
    names = _feature_names(client, ref, local, mlmodel)
    for flavor in ("keras", "tensorflow"):
        conf = flavors.get(flavor)
        if conf is None:
            continue
        data_dir = local / conf.get("data", "data")
        archive = data_dir / "model.keras"
        if conf.get("save_exported_model") or conf.get("model_type", "keras") != "keras":
            raise UnsafeModelError(
                f"{ref.uri} is an exported TensorFlow SavedModel ({flavor} flavor); its graph "
                "runs on load and is refused. Log the Keras model itself (model.keras)."
            )
        if not archive.is_file():
            found = sorted(p.name for p in data_dir.iterdir()) if data_dir.is_dir() else []
            raise UnsafeModelError(
                f"{ref.uri} ({flavor} flavor) holds no Keras 3 model.keras archive (found "
                f"{found}); legacy .h5 and SavedModel formats are refused"
            )
        return LoadedModel(load_keras_file(archive), flavor, names, local)
    if "python_function" not in flavors:
        raise UnsafeModelError(f"{ref.uri} has no loadable flavor: {sorted(flavors)}")
    if not trust_pyfunc:
        raise UnsafeModelError(
            f"{ref.uri} is not a Keras model (flavors {sorted(flavors)}); loading it means "
            "unpickling code. If you trust it, pass trust_pyfunc=True (--trust-pyfunc); "
            "the model-agnostic methods then run on it"
        )
    return LoadedModel(_pyfunc(local, names), "python_function", names, local)


def _pyfunc(local: Path, names: tuple[str, ...] | None) -> Model:
    import mlflow
    import pandas as pd

    pyfunc = mlflow.pyfunc.load_model(str(local))
    schema = pyfunc.metadata.get_input_schema()
    n_features = len(names) if names else len(schema.inputs) if schema else 0
    if not n_features:
        raise DataError(f"{local.name}: cannot tell how many inputs the pyfunc model takes")

    def predict(X: Any) -> Any:
        frame = pd.DataFrame(X, columns=list(names)) if names else X
        return pyfunc.predict(frame)

    return CallableModel(predict, n_features=n_features)


def _feature_names(
    client: MlflowClient, ref: ModelRef, local: Path, mlmodel: dict[str, Any]
) -> tuple[str, ...] | None:
    """Input column names from the signature, the input example, or a training-time tag/param."""
    inputs = json.loads((mlmodel.get("signature") or {}).get("inputs") or "[]")
    named = [spec["name"] for spec in inputs if "name" in spec and _one_column(spec)]
    if named and len(named) == len(inputs):
        return tuple(named)
    example = local / "input_example.json"
    if example.is_file():
        columns = json.loads(example.read_text()).get("columns") if example.stat().st_size else None
        if columns:
            return tuple(map(str, columns))
    mv = client.get_model_version(ref.name, ref.version)
    candidates = [mv.tags.get("feature_names")]
    if ref.run_id:
        run = client.get_run(ref.run_id)
        candidates += [run.data.tags.get("feature_names"), run.data.params.get("feature_names")]
    for value in candidates:
        if value:
            return _parse_names(value)
    return None


def _one_column(spec: dict[str, Any]) -> bool:
    """A signature entry that is one column: a column spec, or a named tensor of shape (-1,)
    or (-1, 1) (a Keras model's named input), not a matrix of several columns."""
    if spec.get("type") != "tensor":
        return True
    shape = list(spec.get("tensor-spec", {}).get("shape", []))
    return shape in ([-1], [-1, 1])


def _parse_names(value: str) -> tuple[str, ...]:
    text = value.strip()
    if text.startswith("["):
        return tuple(map(str, json.loads(text)))
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class DataSource:
    """The evaluation data, checked against the model's columns, and where it came from."""

    data: EvalData
    uri: str
    target: str


def fetch_data(
    client: MlflowClient,
    ref: ModelRef,
    *,
    data_uri: str | None,
    target: str | None,
    feature_names: Sequence[str] | None,
) -> DataSource:
    """Load the evaluation table: ``data_uri`` if given, else what the model's run logged.

    ``data_uri`` is a local path or any MLflow artifact URI (``runs:/``, ``mlflow-artifacts:``,
    ``s3://``, ...), parquet or CSV. Without it, the source run is searched for a dataset input
    in context evaluation/test/eval/validation whose source has a URI, then for a conventional
    artifact (``evaluation.parquet``, ``test.csv``, ...). The target comes from ``target``, else
    the run's ``target`` param or tag.
    """
    run = client.get_run(ref.run_id) if ref.run_id else None
    uri = data_uri or (_logged_data_uri(client, run) if run else None)
    if uri is None:
        raise DataError(
            f"no evaluation data for {ref.uri}: pass data_uri (--data), or log it in the "
            f"training run as a dataset input with context 'evaluation' whose source is a file "
            f"URI, or as an artifact named one of {list(CONVENTIONAL_ARTIFACTS)}"
        )
    column = target or (run and (run.data.params.get("target") or run.data.tags.get("target")))
    if not column:
        raise DataError(
            f"no target column for {ref.uri}: pass target (--target), or log a 'target' param "
            "in the model's training run"
        )
    data = _read_data(client, uri, target=str(column), feature_names=feature_names)
    return DataSource(data, uri, str(column))


def _logged_data_uri(client: MlflowClient, run: Any) -> str | None:
    for dataset_input in run.inputs.dataset_inputs if run.inputs else []:
        context = {t.key: t.value for t in dataset_input.tags}.get("mlflow.data.context")
        if context not in EVALUATION_CONTEXTS:
            continue
        try:
            source = json.loads(dataset_input.dataset.source)
        except (TypeError, json.JSONDecodeError):
            continue
        uri = source.get("uri") or source.get("url") if isinstance(source, dict) else None
        if uri:
            return str(uri)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    for name in CONVENTIONAL_ARTIFACTS:
        if name in artifacts:
            return f"runs:/{run.info.run_id}/{name}"
    return None


def _read_data(
    client: MlflowClient, uri: str, *, target: str, feature_names: Sequence[str] | None
) -> EvalData:
    import mlflow

    from importance_tasks.data import read_eval_data

    def read(path: str | Path) -> EvalData:
        return read_eval_data(path, target=target, feature_names=feature_names)

    if "://" not in uri and ":/" not in uri:
        return read(uri)
    if uri.startswith("file://"):
        return read(uri[len("file://") :])
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=tmp, tracking_uri=client.tracking_uri
            )
        except Exception as exc:
            from mlflow.exceptions import MlflowException

            if isinstance(exc, MlflowException) and exc.error_code in {
                "RESOURCE_DOES_NOT_EXIST",
                "INVALID_PARAMETER_VALUE",
            }:
                raise DataError(f"evaluation data {uri} not found: {exc.message}") from None
            raise
        return read(path)
