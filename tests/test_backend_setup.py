"""The Keras backend comes from one of the package's extras: Keras' own choice where one is
made, else the first installed; a missing one is one line naming its extra. GPU memory growth
is on unless the user set it (several tasks on one GPU worker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec

import pytest

HIDE = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {hidden!r}:
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Hide())
"""
LOAD = """
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


GPU_MEMORY = {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}


def _python(code: str, cwd, **env: str):  # type: ignore[no-untyped-def]
    chosen = ("KERAS_BACKEND", "KERAS_HOME", *GPU_MEMORY)
    keep = {k: v for k, v in os.environ.items() if k not in chosen}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env={**keep, **env}, capture_output=True,
        text=True, check=False,
    )  # fmt: skip


def _one_line(found) -> str:  # type: ignore[no-untyped-def]
    lines = found.stdout.strip().splitlines()
    assert len(lines) == 1, found.stdout + found.stderr[-2000:]
    return str(lines[0])


INSTALLED = [name for name in ("tensorflow", "jax", "torch") if find_spec(name)]
TAKEN = """
from importance_tasks.keras.backend_setup import require_backend
import os
print(require_backend(), os.environ.get("KERAS_BACKEND"))
"""


def test_a_chosen_backend_that_is_missing_is_one_line_naming_its_extras(tmp_path):
    """KERAS_BACKEND=tensorflow without either TensorFlow distribution says what to install."""
    code = HIDE.format(hidden={"tensorflow"}) + LOAD
    line = _one_line(_python(code, tmp_path, KERAS_BACKEND="tensorflow", KERAS_HOME=str(tmp_path)))
    assert "KERAS_BACKEND is tensorflow, but tensorflow is not installed" in line
    assert "importance-tasks[tensorflow]" in line and "importance-tasks[tensorflow-cpu]" in line
    jax = _one_line(_python(HIDE.format(hidden={"jax"}) + LOAD, tmp_path, KERAS_BACKEND="jax"))
    assert "importance-tasks[jax]" in jax


def test_keras_json_chooses_an_installed_backend(tmp_path):
    """keras.json's backend is taken where it is installed (the last installed here, so not
    the default); one not installed (Keras writes TensorFlow there itself) is no choice."""
    (tmp_path / "keras.json").write_text(json.dumps({"backend": INSTALLED[-1]}))
    taken = _one_line(_python(TAKEN, tmp_path, KERAS_HOME=str(tmp_path))).split()
    assert taken == [INSTALLED[-1], "None"]
    hidden = HIDE.format(hidden={INSTALLED[-1]}) + TAKEN
    if len(INSTALLED) > 1:
        taken = _one_line(_python(hidden, tmp_path, KERAS_HOME=str(tmp_path))).split()
        assert taken == [INSTALLED[0], INSTALLED[0]]


def test_without_a_choice_the_first_installed_backend_is_taken(tmp_path):
    """No KERAS_BACKEND, no keras.json: TensorFlow where it is installed, else JAX, else
    PyTorch; none installed names every extra."""
    taken = _one_line(_python(TAKEN, tmp_path, KERAS_HOME=str(tmp_path))).split()
    assert taken == [INSTALLED[0], INSTALLED[0]]
    none = HIDE.format(hidden={"tensorflow", "jax", "torch"}) + LOAD
    line = _one_line(_python(none, tmp_path, KERAS_HOME=str(tmp_path)))
    assert line.startswith("no Keras backend is installed")
    for extra in ("[tensorflow-cpu]", "[jax]", "[torch]"):
        assert extra in line


@pytest.mark.parametrize("variable", sorted(GPU_MEMORY))
def test_gpu_memory_is_taken_as_needed_unless_the_user_chose(tmp_path, variable):
    code = f"""
import os
from importance_tasks.keras.backend_setup import require_backend
require_backend()
print(os.environ[{variable!r}])
"""
    found = _python(code, tmp_path, KERAS_HOME=str(tmp_path))
    assert found.stdout.split()[-1] == GPU_MEMORY[variable], found.stderr[-2000:]
    chosen = _python(code, tmp_path, KERAS_HOME=str(tmp_path), **{variable: "chosen"})
    assert chosen.stdout.split()[-1] == "chosen"


def test_registering_refuses_a_flavor_that_does_not_fit_the_backend(tmp_path):
    """MLflow's keras flavor logs on any backend, its tensorflow flavor only on TensorFlow."""
    import keras
    import pandas as pd

    from importance_tasks.errors import InputError
    from importance_tasks.mlflow_io.training import register_keras_model

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    frame = pd.DataFrame({"a": [0.0, 1.0], "b": [1.0, 0.0], "y": [0.0, 1.0]})
    wrong = ["pytorch"] + ([] if keras.backend.backend() == "tensorflow" else ["tensorflow"])
    for flavor in wrong:
        with pytest.raises(InputError, match=f"flavor={flavor!r} on Keras' "):
            register_keras_model(
                model, name="m", eval_frame=frame, target="y", tracking_uri=str(tmp_path),
                flavor=flavor,
            )  # fmt: skip
