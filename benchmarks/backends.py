"""The Keras backends side by side on this machine: the same saved models and data on each
installed backend (TensorFlow, JAX, PyTorch), each in its own process (Keras' backend is fixed
per process).

    .venv/bin/python benchmarks/backends.py     (rewrites its section of benchmarks/RESULTS.md;
                                                 also a section of make bench)

The binary classifiers of ``defaults.py`` (Dense 128-64, softmax), 10,000 rows, at 100 and 500
features. Per backend and width, after an untimed warm-up on 200 rows (compiling): the forward
floor (best of 5 forward passes over 100,000 rows, rows per second), permutation at 5 repeats,
SHAP and integrated gradients at their defaults (each method's own seconds), and every default
method together (wall). The top features of each backend are checked to agree ('same top 10').
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- backends:start -->", "<!-- backends:end -->"
WIDTHS = (100, 500)
BACKENDS = ("tensorflow", "jax", "torch")


def device(backend: str) -> str:
    """Where Keras runs this process's models: the accelerator's kind, else "cpu"."""
    if backend == "tensorflow":
        import tensorflow as tf

        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    if backend == "jax":
        import jax

        return str(jax.devices()[0].platform)
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def measure(backend: str, widths: tuple[int, ...] = WIDTHS) -> dict[str, dict[str, Any]]:
    """This process's backend on each width (run with KERAS_BACKEND set)."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    from defaults import build  # benchmarks/ is on the path

    from importance_tasks.keras.backend_setup import require_backend

    assert require_backend() == backend
    from importance_tasks.analysis import explain
    from importance_tasks.data import EvalData
    from importance_tasks.keras import load_keras_file

    found: dict[str, dict[str, Any]] = {}
    for width in widths:
        model_path, data_path = build(width)
        arrays = np.load(data_path)
        names = tuple(f"x{i}" for i in range(width))
        data = EvalData(X=arrays["X"], y=arrays["y"], feature_names=names)
        model = load_keras_file(model_path)
        small = EvalData(X=data.X[:200], y=data.y[:200], feature_names=names)
        explain(model, small, seed=0, skip_unsupported=True)  # warm-up: compiling
        rows = np.ascontiguousarray(np.tile(data.X, (10, 1)))
        floor = []
        for _ in range(5):
            start = time.perf_counter()
            model.predict(rows)
            floor.append(time.perf_counter() - start)
        options = {"permutation": {"n_repeats": 5}}
        timed = explain(
            model, data, seed=0, methods=("permutation", "shap", "integrated_gradients"),
            method_options=options, interactions=False, effects=False,
        )  # fmt: skip
        start = time.perf_counter()
        defaults = explain(model, data, seed=0, skip_unsupported=True)
        wall = time.perf_counter() - start
        rank = defaults.consensus.rank
        found[str(width)] = {
            "rows_per_s": len(rows) / min(floor),
            **{name: result.seconds for name, result in timed.results.items()},
            "defaults_wall": wall,
            "top10": sorted(int(i) for i in np.argsort(rank)[:10]),
            "device": device(backend),
        }
    return found


def measured_in_process(
    backend: str, widths: tuple[int, ...], emit: Callable[[str], None], **env: str
) -> dict[str, dict[str, Any]] | None:
    """``measure`` in a fresh process on ``backend`` (with ``env`` added), or None (said)."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    done = subprocess.run(
        [sys.executable, __file__, "--one", backend, ",".join(map(str, widths))],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        emit(f"{backend}: failed: {done.stderr[-500:]}")
        return None
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(emit: Callable[[str], None]) -> None:
    installed = [b for b in BACKENDS if find_spec(b)]
    measured = {}
    for backend in installed:
        found = measured_in_process(backend, WIDTHS, emit)
        if found is not None:
            measured[backend] = found
    emit(
        f"Keras backends side by side (`benchmarks/backends.py`), installed here: "
        f"{', '.join(installed)}. The models and data of the defaults' table; forward floor best "
        "of 5 passes over 100,000 rows; permutation at 5 repeats, SHAP and IG at their defaults "
        "(each method's own seconds); every default method together (wall); 'same top 10': the "
        "consensus's top 10 equals TensorFlow's."
    )
    emit("")
    emit(
        "| features | backend | forward rows/s | permutation s | SHAP s | IG s | defaults wall s "
        "| same top 10 |"
    )
    emit("| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    reference = measured.get("tensorflow")
    for width in WIDTHS:
        for backend, found in measured.items():
            row = found[str(width)]
            same = "" if reference is None else row["top10"] == reference[str(width)]["top10"]
            emit(
                f"| {width} | {backend} | {row['rows_per_s']:,.0f} | {row['permutation']:.2f} "
                f"| {row['shap']:.2f} | {row['integrated_gradients']:.2f} "
                f"| {row['defaults_wall']:.1f} | {same} |"
            )


def section(lines: list[str]) -> str:
    """The backends' table between its markers, as RESULTS.md holds it."""
    return "\n".join([START, *lines, END])


def rewrite_results(lines: list[str]) -> None:
    """Replace this table's section of RESULTS.md (appended where it has none)."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section(lines) + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section(lines) + "\n"
    RESULTS.write_text(text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(sys.argv[2], tuple(int(w) for w in sys.argv[3].split(",")))))
    else:
        lines: list[str] = []

        def emit(line: str) -> None:
            print(line)
            lines.append(line)

        run(emit)
        rewrite_results(lines)
