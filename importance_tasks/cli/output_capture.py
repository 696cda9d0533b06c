"""Sending a process's own stdout and stderr (file descriptors 1 and 2) to a file for a while.

TensorFlow's C++ start-up messages (absl, oneDNN, cpu_feature_guard) and Airflow's in-process
task logs are written to the descriptors directly, past ``sys.stdout``; only a descriptor-level
redirect keeps them off a person's terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["import_keras_quietly", "output_to"]


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[Path]:
    """Within the block, descriptors 1 and 2 (and ``sys.stdout``/``sys.stderr``) append to
    ``path``; restored afterwards, also on an exception."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield path
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def import_keras_quietly() -> None:
    """Import Keras on its backend (``keras.backend_setup``) with the backend's start-up
    chatter kept off the terminal; shown if it fails."""
    from importance_tasks.keras.backend_setup import require_backend

    require_backend()
    if "keras" in sys.modules:
        return
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "keras-import.log"
        try:
            with output_to(log):
                import keras  # noqa: F401
        except BaseException:
            sys.stderr.write(log.read_text(errors="replace"))
            raise
