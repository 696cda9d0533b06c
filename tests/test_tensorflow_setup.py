"""TensorFlow comes from one of the package's extras; without it, one line names both. GPU
memory growth is on unless the user set it (several tasks on one GPU worker)."""

from __future__ import annotations

import subprocess
import sys


def _python(code: str, cwd, env=None):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip


def test_a_missing_tensorflow_is_one_line_naming_both_extras(tmp_path):
    """Without either TensorFlow distribution, loading a model says what to install."""
    code = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Hide())
from importance_tasks import load_keras_file
from importance_tasks.errors import MissingPackageError
import zipfile
config = '{"class_name": "Sequential", "config": {}}'
zipfile.ZipFile("m.keras", "w").writestr("config.json", config)
try:
    load_keras_file("m.keras")
except MissingPackageError as exc:
    print(exc)
"""
    found = _python(code, tmp_path)
    lines = found.stdout.strip().splitlines()
    assert len(lines) == 1, found.stdout + found.stderr[-2000:]
    assert "importance-tasks[tensorflow]" in lines[0]
    assert "importance-tasks[tensorflow-cpu]" in lines[0]


def test_gpu_memory_growth_is_on_unless_the_user_chose(tmp_path):
    import os

    code = """
import os
from importance_tasks.keras.tensorflow_setup import require_tensorflow
require_tensorflow()
import tensorflow as tf
print(os.environ["TF_FORCE_GPU_ALLOW_GROWTH"])
"""
    env = {k: v for k, v in os.environ.items() if k != "TF_FORCE_GPU_ALLOW_GROWTH"}
    assert _python(code, tmp_path, env).stdout.split()[-1] == "true"
    chosen = _python(code, tmp_path, {**env, "TF_FORCE_GPU_ALLOW_GROWTH": "false"})
    assert chosen.stdout.split()[-1] == "false"
