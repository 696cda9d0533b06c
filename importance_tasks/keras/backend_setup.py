"""The Keras backend, settled before Keras is first imported: present, and set to take GPU
memory as it needs it.

Keras runs on TensorFlow, JAX or PyTorch, its own choice: ``KERAS_BACKEND``, else the
``backend`` of ``keras.json`` (in ``KERAS_HOME``, default ``~/.keras``). Where neither chooses an
installed backend, Keras would take TensorFlow (and writes it into a new ``keras.json``); we
take the first installed of TensorFlow, JAX and PyTorch instead (and set ``KERAS_BACKEND``, so
that Keras and every process started from this one agree), so that ``pip install
'importance-tasks[jax]'`` works without a setting. The package requires none of
them: each comes from an extra, so that a team's own build stays the only one.

Several analysis tasks on one GPU worker would each take the whole GPU's memory at TensorFlow's
and JAX's defaults; ``TF_FORCE_GPU_ALLOW_GROWTH`` and ``XLA_PYTHON_CLIENT_PREALLOCATE`` (unless
already set) make each take what it uses.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

from importance_tasks.errors import MissingPackageError

__all__ = ["BACKENDS", "require_backend"]

# Keras' backends we run on, in the order one is taken when nothing chooses: the package each
# needs and the extra that installs it.
BACKENDS = {
    "tensorflow": ("tensorflow", "'importance-tasks[tensorflow]' (GPU build) or "
                   "'importance-tasks[tensorflow-cpu]'"),
    "jax": ("jax", "'importance-tasks[jax]'"),
    "torch": ("torch", "'importance-tasks[torch]'"),
}  # fmt: skip


def require_backend() -> str:
    """The Keras backend that will run the models, checked to be installed; GPU memory taken
    as needed. Call before Keras is first imported.

    Raises
    ------
    MissingPackageError
        When the backend chosen is not installed, or none is; the message names the extra.
    """
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if "keras" in sys.modules:
        import keras

        return str(keras.backend.backend())
    chosen = os.environ.get("KERAS_BACKEND") or _keras_json()
    if chosen is None:
        found = next((name for name, (package, _) in BACKENDS.items() if _installed(package)), None)
        if found is None:
            extras = "; ".join(extra for _, extra in BACKENDS.values())
            raise MissingPackageError(f"no Keras backend is installed: pip install one of {extras}")
        os.environ["KERAS_BACKEND"] = found
        return found
    if chosen not in BACKENDS:
        raise MissingPackageError(
            f"KERAS_BACKEND is {chosen!r}, a backend that cannot take gradients; set it to one "
            f"of {sorted(BACKENDS)}"
        )
    package, extra = BACKENDS[chosen]
    if not _installed(package):
        raise MissingPackageError(
            f"KERAS_BACKEND is {chosen}, but {package} is not installed: pip install {extra}, "
            "or set KERAS_BACKEND to an installed backend"
        )
    return chosen


def _keras_json() -> str | None:
    """The backend ``keras.json`` names, where it is installed. Keras writes that file on its
    first import with its own default (TensorFlow), so a backend it names that is not
    installed is no one's choice."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    try:
        backend = json.loads((home / "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    if backend not in BACKENDS or not _installed(BACKENDS[backend][0]):
        return None
    return str(backend)


def _installed(package: str) -> bool:
    if package in sys.modules:
        return True
    try:
        return importlib.util.find_spec(package) is not None
    except ImportError:  # an import hook that refuses it
        return False
