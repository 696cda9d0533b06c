"""Exact SHAP for a small model: ours (``importance_tasks.methods.exact_shap``) against shap's
``Exact`` explainer over the same ``Independent`` masker, each in a fresh process as a task
meets it, with the same model, rows and background.

    .venv/bin/python benchmarks/exact_shap.py     (prints the table)

A Keras MLP (Dense 64-32) on 6 features, 200 rows explained over 100 background rows (what the
``shap`` method's sizing gives a model this small: its most rows). Each side's first call (shap's
includes compiling its numba kernels, which it does in every new process) and a second call in
the same process; the largest difference of the values, against the largest value.
"""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys, time
import numpy as np
import keras
from importance_tasks.keras import KerasModel
keras.utils.set_random_seed(0)
layers = [keras.Input((6,)), keras.layers.Dense(64, activation="relu"),
          keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)]
model = KerasModel(keras.Sequential(layers))
X = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
rows, background = X[:200], X[200:]
if sys.argv[1] == "ours":
    from importance_tasks.methods.exact_shap import ExactShap
    explain = ExactShap(model, background).explain
else:
    import shap
    explainer = shap.explainers.Exact(model.predict, shap.maskers.Independent(background, 100))
    explain = lambda r: np.asarray(explainer(r, silent=True).values)
times = []
for _ in range(2):
    start = time.perf_counter()
    values = explain(rows)
    times.append(time.perf_counter() - start)
np.save(sys.argv[2], np.asarray(values, dtype=np.float64).reshape(200, 6))
print(json.dumps(times))
"""


def measured(side: str) -> tuple[list[float], str]:
    path = f"/tmp/exact_shap_{side}.npy"
    out = subprocess.run(
        [sys.executable, "-c", CODE, side, path], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1]), path


def main() -> None:
    import numpy as np

    (ours, ours_path), (theirs, theirs_path) = measured("ours"), measured("shap")
    a, b = np.load(ours_path), np.load(theirs_path)
    gap = float(np.abs(a - b).max() / np.abs(b).max())
    print("| explainer | first call s | second call s |")
    print("| --- | ---: | ---: |")
    print(f"| ours (exact_shap.py) | {ours[0]:.2f} | {ours[1]:.2f} |")
    print(f"| shap Exact | {theirs[0]:.2f} | {theirs[1]:.2f} |")
    print(
        f"first call: shap / ours = {theirs[0] / ours[0]:.1f}x; "
        f"second call: {theirs[1] / ours[1]:.1f}x; largest difference {gap:.1e} of the largest"
    )


if __name__ == "__main__":
    main()
