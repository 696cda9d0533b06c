"""TensorFlow for the Keras models: present (from one of the package's extras), and set to
take GPU memory as it needs it.

``tensorflow`` (with GPU support) and ``tensorflow-cpu`` both install the module
``tensorflow``; the package requires neither, so that a team's own TensorFlow stays the only
one. Several analysis tasks on one GPU worker would each take the whole GPU's memory at
TensorFlow's default; memory growth (``TF_FORCE_GPU_ALLOW_GROWTH``, unless already set) makes
each take what it uses.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from importance_tasks.errors import MissingPackageError

__all__ = ["MISSING_TENSORFLOW", "require_tensorflow"]

MISSING_TENSORFLOW = (
    "TensorFlow is not installed: pip install 'importance-tasks[tensorflow]' (GPU build) "
    "or 'importance-tasks[tensorflow-cpu]'"
)


def require_tensorflow() -> None:
    """Before TensorFlow is first imported: GPU memory growth on, and a one-line error naming
    both extras when neither is installed."""
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    if "tensorflow" in sys.modules:
        return
    try:
        found = importlib.util.find_spec("tensorflow") is not None
    except ImportError:  # an import hook that refuses it
        found = False
    if not found:
        raise MissingPackageError(MISSING_TENSORFLOW)
