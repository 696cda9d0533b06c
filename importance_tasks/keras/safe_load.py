"""Loading Keras model files without running code from them.

Keras safe mode already refuses Python lambdas, but a ``.keras`` archive can still name
classes from arbitrary modules (custom objects, whose module Keras would import) or layers
that load a TensorFlow graph (``TFSMLayer``). We read the archive's ``config.json`` as plain
JSON first and refuse anything outside Keras' own built-in, data-only objects, before Keras
deserialises a single object; only then does Keras load it, still in safe mode.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from importance_tasks.errors import UnsafeModelError, UnsupportedModelError
from importance_tasks.keras.backend_setup import BACKENDS, require_backend
from importance_tasks.keras.keras_model import KerasModel

__all__ = ["check_keras_archive", "load_keras_file"]

# Built-in layers that execute code or graphs they carry, rather than fixed maths.
_CODE_CARRYING = {
    "Lambda",
    "TFSMLayer",
    "__lambda__",
    "function",
    "TorchModuleWrapper",
    "JaxLayer",
    "FlaxLayer",
}
# Keras layers that hold strings or run TensorFlow ops in any backend: loaded only where Keras
# runs on TensorFlow.
TENSORFLOW_ONLY = {
    "StringLookup", "IntegerLookup", "TextVectorization", "Hashing", "HashedCrossing",
}  # fmt: skip
_ALLOWED_MEMBERS = {"config.json", "metadata.json", "model.weights.h5", "model.weights.npz"}


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "class_name" in node:
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def check_keras_archive(path: Path) -> Any:
    """Refuse a ``.keras`` archive that could run code on load; return its config (parsed
    ``config.json``).

    Raises
    ------
    UnsafeModelError
        When the archive is not a Keras 3 zip, holds unexpected files (pickles, SavedModels),
        or its config names a Lambda/TFSMLayer, a custom object, or a class outside ``keras``.
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise UnsafeModelError(f"{path.name} is not a Keras 3 .keras archive (not a zip)") from exc
    with archive:
        names = set(archive.namelist())
        unexpected = sorted(
            n
            for n in names - _ALLOWED_MEMBERS
            if not n.startswith("assets/") or ".." in Path(n).parts or n.startswith("/")
        )
        if unexpected:
            raise UnsafeModelError(
                f"{path.name} holds unexpected files {unexpected[:5]}; a plain Keras model holds "
                "only config.json, metadata.json and its weights"
            )
        if "config.json" not in names:
            raise UnsafeModelError(f"{path.name} has no config.json; it is not a Keras 3 model")
        config = json.loads(archive.read("config.json"))
    for obj in _objects(config):
        class_name = str(obj.get("class_name"))
        module = obj.get("module")
        if class_name in _CODE_CARRYING:
            raise UnsafeModelError(
                f"{path.name} contains a {class_name} layer, which runs code stored in the file; "
                "it was refused before loading. Rebuild the model from built-in layers."
            )
        if obj.get("registered_name") not in (None, class_name) or (
            module is not None and not (module == "keras" or str(module).startswith("keras."))
        ):
            raise UnsafeModelError(
                f"{path.name} uses the custom object {class_name!r} (module {module!r}); custom "
                "code is never imported from a model file. Use built-in Keras layers."
            )
    return config


def load_keras_file(path: str | Path) -> KerasModel:
    """Check and load a ``.keras`` file with Keras safe mode on.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    UnsafeModelError
        When it is not a ``.keras`` archive, or it would run code on load.
    """
    path = Path(path)
    if path.is_dir() and (path / "saved_model.pb").exists():
        raise UnsafeModelError(
            f"{path.name} is a TensorFlow SavedModel, whose graph is code that runs when called; "
            "only Keras 3 '.keras' archives are loaded. Re-save the model with "
            "model.save('m.keras')"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    if path.suffix != ".keras":
        raise UnsafeModelError(
            f"{path.name}: only Keras 3 '.keras' archives are loaded (legacy .h5 files and "
            "SavedModels can run code on load); re-save the model with model.save('m.keras')"
        )
    config = check_keras_archive(path)
    backend = require_backend()
    if backend != "tensorflow":
        _refuse_tensorflow_layers(path, config, backend)
    import keras

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except ValueError as exc:
        raise UnsafeModelError(f"{path.name} was refused by Keras safe mode: {exc}") from exc
    except TypeError as exc:  # a layer's config with arguments this Keras does not know
        raise UnsupportedModelError(
            f"{path.name} was saved by Keras {_saved_by(path)} and cannot be loaded by the "
            f"installed Keras {keras.__version__} ({str(exc).strip().splitlines()[-1]}); install "
            "the Keras it was saved with, or a newer one"
        ) from exc
    return KerasModel(model)


def _saved_by(path: Path) -> str:
    """The Keras version the archive's ``metadata.json`` names ("unknown" without one)."""
    with zipfile.ZipFile(path) as archive:
        try:
            return str(json.loads(archive.read("metadata.json")).get("keras_version", "unknown"))
        except (KeyError, ValueError, AttributeError):
            return "unknown"


def _refuse_tensorflow_layers(path: Path, config: Any, backend: str) -> None:
    """Refuse, by name, the layers that run only on TensorFlow (lookups of strings and
    integers, hashing): Keras on JAX or PyTorch cannot load them (without TensorFlow) or run
    them on its own tensors (with it)."""
    found = [
        f"{obj.get('config', {}).get('name', obj['class_name'])!r} ({obj['class_name']})"
        for obj in _objects(config)
        if obj.get("class_name") in TENSORFLOW_ONLY
    ]
    if found:
        raise UnsupportedModelError(
            f"{path.name}: the layers {', '.join(found)} run only on TensorFlow, and Keras runs "
            f"on {backend}; pip install {BACKENDS['tensorflow'][1]} and set "
            "KERAS_BACKEND=tensorflow to analyse this model"
        )
