"""Reading from the registry: pin a model version, load it safely, find its evaluation data."""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from importance_tasks.errors import DataError, RegistryError, UnsafeModelError
from importance_tasks.keras.backend_setup import require_backend
from importance_tasks.keras.safe_load import load_keras_file
from importance_tasks.mlflow_io.feature_names import FeatureNames, logged_feature_names
from importance_tasks.mlflow_io.model_ref import ModelRef, ModelSpec
from importance_tasks.model import CallableModel, Model

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "LoadedModel",
    "fetch_model",
    "model_id_of",
    "resolve_model",
]

_MODEL_ID = re.compile(r"^models:/(m-[0-9a-f]+)$")


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
    feature_names: FeatureNames | None
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

    local = download_model(client, ref)
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    flavors = mlmodel.get("flavors", {})
    names = logged_feature_names(client, ref, local, mlmodel)
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


def _pyfunc(local: Path, found: FeatureNames | None) -> Model:
    import mlflow
    import pandas as pd

    require_backend()  # a Keras model logged as a plain pyfunc loads with Keras
    pyfunc = mlflow.pyfunc.load_model(str(local))
    schema = pyfunc.metadata.get_input_schema()
    names = None if found is None or found.may_hold_target else found.names
    n_features = len(names) if names else len(schema.inputs) if schema else 0
    if not n_features:
        raise DataError(f"{local.name}: cannot tell how many inputs the pyfunc model takes")

    def predict(X: Any) -> Any:
        frame = pd.DataFrame(X, columns=list(names)) if names else X
        return pyfunc.predict(frame)

    return CallableModel(predict, n_features=n_features)
