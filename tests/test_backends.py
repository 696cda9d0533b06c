"""The same answers on every Keras backend: one ``.keras`` file of each kind (flat tabular, named
mixed-type inputs, windows, two heads) analysed through the command line on TensorFlow and on
JAX gives every method the same ranks (swaps only between features whose rank intervals
overlap) and the same values within float32 rounding.

Tolerance: each method's importance per feature within ``RTOL`` of that method's largest
importance. The two backends run the same float32 network through different kernels (oneDNN,
XLA), whose sums round differently, about 1e-7 relative per output; the methods' seeded draws
are the same, so their averages differ by about that much (1e-8 measured on Friedman #1 for
every method) and 1e-5 leaves two orders of magnitude. A wrong answer on one backend (a
transposed window, a shifted column, a wrong head) moves importance by far more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from importance_tasks.methods import REGISTRY

pytestmark = pytest.mark.skipif(
    not (find_spec("tensorflow") and find_spec("jax")),
    reason="compares TensorFlow with JAX: needs both installed (.venv has both)",
)
RTOL = 1e-5
BACKENDS = ("tensorflow", "jax")


def _cli(backend: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The command line (``importance-tasks``) in a process of its own on ``backend``."""
    cli = Path(sys.executable).with_name("importance-tasks")
    return subprocess.run(
        [str(cli), *args], env={**os.environ, "KERAS_BACKEND": backend}, capture_output=True,
        text=True, check=False, timeout=600,
    )  # fmt: skip


def _explain(backend: str, model: Path, data: Path, out: Path, *args: str) -> dict[str, Any]:
    found = _cli(
        backend, "explain", "--model", str(model), "--data", str(data), "--json", str(out), *args
    )
    assert found.returncode == 0, found.stderr[-3000:]
    payload = json.loads(out.read_text())
    return dict(payload)


def _same_answers(tf: dict[str, Any], jax: dict[str, Any]) -> None:
    assert tf.get("backend") == "tensorflow" and jax.get("backend") == "jax"
    assert tf["methods"].keys() == jax["methods"].keys()
    for method, a in tf["methods"].items():
        b = jax["methods"][method]
        features = list(a["importance"])
        x = np.array([a["importance"][f] for f in features])
        y = np.array([b["importance"][f] for f in features])
        assert np.abs(x - y).max() <= RTOL * np.abs(x).max(), (method, x, y)
        for i, f in enumerate(features):
            for g in features[i + 1 :]:
                if (a["rank"][f] < a["rank"][g]) != (b["rank"][f] < b["rank"][g]):
                    low, high = sorted((f, g), key=lambda h: a["rank"][h])
                    assert a["rank_interval"][high][0] <= a["rank_interval"][low][1], (
                        method, f, g
                    )  # fmt: skip


def _top(payload: dict[str, Any], k: int) -> set[str]:
    """The ``k`` features the consensus ranks first."""
    rank = payload["consensus"]["rank"]
    return set(sorted(rank, key=rank.get)[:k])


def _both(tmp_path: Path, model: Path, data: Path, *args: str) -> list[dict[str, Any]]:
    return [_explain(b, model, data, tmp_path / f"{b}.json", *args) for b in BACKENDS]


def _trained(model: Any, x: Any, y: Any, path: Path) -> Path:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    model.save(path)
    return path


def test_a_flat_tabular_model_every_method(tmp_path):
    import keras
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=400, n_features=10, random_state=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((10,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)]
    )
    path = _trained(model, X.astype(np.float32), y, tmp_path / "flat.keras")
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]).assign(y=y)
    frame.to_csv(tmp_path / "flat.csv", index=False)
    tf, jax = _both(
        tmp_path, path, tmp_path / "flat.csv", "--target", "y", "--methods", ",".join(REGISTRY)
    )
    _same_answers(tf, jax)
    assert _top(tf, 4) == {"x0", "x1", "x3", "x4"}


def test_named_mixed_type_inputs(tmp_path):
    """A float, an integer code one-hot encoded (gradients start after the encoding) and a
    normalised float, each its own named input."""
    import keras

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=500),
            "rooms": rng.integers(0, 5, 500),
            "age": rng.normal(size=500),
        }
    )
    frame["y"] = 2 * frame["size"] + (frame["rooms"] == 3) - 0.2 * frame["age"]
    keras.utils.set_random_seed(0)
    size = keras.Input((1,), name="size")
    rooms = keras.Input((1,), name="rooms", dtype="int32")
    age = keras.Input((1,), name="age")
    norm = keras.layers.Normalization()
    norm.adapt(frame[["age"]].to_numpy(np.float32))
    joined = keras.layers.Concatenate()(
        [size, keras.layers.CategoryEncoding(5, output_mode="one_hot")(rooms), norm(age)]
    )
    out = keras.layers.Dense(1)(keras.layers.Dense(16, activation="relu")(joined))
    model = keras.Model([size, rooms, age], out)
    inputs = {
        "size": frame[["size"]].to_numpy(np.float32),
        "rooms": frame[["rooms"]].to_numpy(np.int32),
        "age": frame[["age"]].to_numpy(np.float32),
    }
    path = _trained(model, inputs, frame["y"].to_numpy(), tmp_path / "named.keras")
    frame.to_csv(tmp_path / "named.csv", index=False)
    tf, jax = _both(tmp_path, path, tmp_path / "named.csv", "--target", "y")
    _same_answers(tf, jax)
    assert _top(tf, 1) == {"size"}


def test_windows(tmp_path):
    """A convolution over windows of 6 steps x 4 variables: the window's cells regrouped by
    variable on both backends the same way."""
    import keras

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 6, 4)).astype(np.float32)
    y = 2.0 * X[:, -1, 0] + 0.6 * X[:, :-1, 1].sum(axis=1)
    np.savez(tmp_path / "windows.npz", X=X, y=y)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6, 4)),
            keras.layers.Conv1D(8, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    path = _trained(model, X, y, tmp_path / "windows.keras")
    names = "load,temp,noise_a,noise_b"
    tf, jax = _both(tmp_path, path, tmp_path / "windows.npz", "--feature-names", names)
    _same_answers(tf, jax)
    assert _top(tf, 2) == {"load", "temp"}


def test_two_heads(tmp_path):
    import keras

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 6)).astype(np.float32)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    frame["first"] = 2 * X[:, 0] + 0.1 * X[:, 5]
    frame["second"] = np.abs(X[:, 3]) - X[:, 4]
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    trunk = keras.layers.Dense(32, activation="relu")(inputs)
    heads = [keras.layers.Dense(1, name=n)(trunk) for n in ("first", "second")]
    model = keras.Model(inputs, heads)
    targets = [frame["first"].to_numpy(), frame["second"].to_numpy()]
    path = _trained(model, X, targets, tmp_path / "heads.keras")
    frame.to_csv(tmp_path / "heads.csv", index=False)
    tf, jax = _both(tmp_path, path, tmp_path / "heads.csv", "--target", "first,second")
    assert tf["outputs"].keys() == {"first", "second"}
    for output in ("first", "second"):
        _same_answers(tf["outputs"][output], jax["outputs"][output])
    assert _top(tf["outputs"]["first"], 1) == {"x0"}
    assert _top(tf["outputs"]["second"], 2) == {"x3", "x4"}


def test_a_model_with_string_lookups_is_refused_by_name_off_tensorflow(tmp_path):
    """Keras' StringLookup runs on TensorFlow alone: on JAX the model is refused before it is
    loaded, naming the layer and the extra, never analysed wrongly."""
    from tests.mixed_models import mixed_frame, mixed_model

    frame = mixed_frame(200)
    mixed_model().save(tmp_path / "mixed.keras")
    frame.to_csv(tmp_path / "mixed.csv", index=False)
    found = _cli(
        "jax", "explain", "--model", str(tmp_path / "mixed.keras"), "--data",
        str(tmp_path / "mixed.csv"), "--target", "y", "--methods", "permutation",
    )  # fmt: skip
    assert found.returncode != 0
    assert "'city_lookup' (StringLookup)" in found.stderr
    assert "run only on TensorFlow, and Keras runs on jax" in found.stderr
    assert "importance-tasks[tensorflow-cpu]" in found.stderr
    assert "KERAS_BACKEND=tensorflow" in found.stderr


def test_verify_on_another_backend_says_so(tmp_path, friedman):
    """A run logged on TensorFlow, computed again on JAX: identical within verify's tolerance,
    and the verdict names both backends."""
    from importance_tasks.config import AnalysisConfig
    from importance_tasks.mlflow_io.training import prepare_local_store
    from importance_tasks.stage import run_stage
    from tests.conftest import register_friedman

    store = prepare_local_store(tmp_path / "store", experiments=("training",))
    register_friedman(friedman, store, "backends")
    config = AnalysisConfig(
        methods=("permutation", "shap", "integrated_gradients"), interactions=False, effects=False
    )
    pinned, _ = run_stage("backends@champion", config, record=config, tracking_uri=store)
    out = tmp_path / "verdict.json"
    found = _cli("jax", "verify", pinned.run_id, "--tracking-uri", store, "--json", str(out))
    assert found.returncode == 0, found.stdout + found.stderr[-3000:]
    verdict = json.loads(out.read_text())
    assert verdict["identical"] is True
    assert (verdict["backend"], verdict["logged_backend"]) == ("jax", "tensorflow")
    assert "computed again on Keras' jax backend, logged on tensorflow" in found.stdout
