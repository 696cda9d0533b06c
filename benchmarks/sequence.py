"""Sequence models: permutation on an LSTM forecaster against its forward floor and the peers,
and the memory of windows cut from a long table.

    .venv/bin/python benchmarks/sequence.py          (make bench; rewrites benchmarks/SEQUENCE.md)

Speed, at 10,000 and 100,000 windows of 24 steps x 8 variables (LSTM(32) -> Dense(1), random
weights: only speed matters), each contender once after the same untimed warm-up, in this one
process:
- ``ours``: permutation per variable as users run it (5 repeats, every window), without and
  with the per-step profile that is on by default (``runner.step_profile``: 1,000 windows,
  2 repeats, each cell shuffled alone).
- ``tsai-style``: tsai's ``feature_importance`` algorithm (each variable's whole window
  shuffled across samples, the loss again), at its best ordinary use: Keras ``predict`` with
  ``batch_size=32,768`` on the whole shuffled copy, and the same 5 repeats as ours (tsai runs
  one).
- ``sklearn``: ``permutation_importance`` around a wrapper whose ``predict`` reshapes the
  flattened windows for Keras (``batch_size=32,768``): every cell a column, so it is the peer of
  the per-step profile, on the same 1,000 windows and 2 repeats.
'x floor' divides by the time our traced forward takes for the same number of windows.

Memory: peak resident memory of reading a parquet table of 1,000,000 steps x 20 variables into
windows of 48 steps and running permutation (20,000 windows, 2 repeats) on a Conv1D model, as
one series and as 10 series of 100,000 steps, each in a fresh process (the peak is the
process's). The task budget is 2 GiB (benchmarks/MEMORY.md).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from peak_memory import peak_rss_mb  # noqa: E402  (benchmarks/ is on the path)

STEPS, VARIABLES, REPEATS, PEER_BATCH = 24, 8, 5, 32_768
MEMORY_STEPS, MEMORY_VARIABLES, MEMORY_WINDOW = 1_000_000, 20, 48
BUDGET_MB = 2048


def _forecaster(steps: int, variables: int, kind: str = "lstm"):  # type: ignore[no-untyped-def]
    import keras

    inputs = keras.Input(shape=(steps, variables))
    if kind == "lstm":
        hidden = keras.layers.LSTM(32)(inputs)
    else:
        hidden = keras.layers.GlobalAveragePooling1D()(
            keras.layers.Conv1D(16, 5, activation="relu")(inputs)
        )
    return keras.Model(inputs, keras.layers.Dense(1)(hidden))


def _data(n_windows: int, model):  # type: ignore[no-untyped-def]
    import numpy as np

    from importance_tasks.data import EvalData
    from importance_tasks.keras import KerasModel
    from importance_tasks.windows import cell_names

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_windows, STEPS * VARIABLES)).astype(np.float32)
    ours = KerasModel(model)
    y = ours.predict(X)[:, 0] + rng.normal(scale=0.1, size=n_windows)
    names = cell_names([f"v{i}" for i in range(VARIABLES)], STEPS)
    return ours, EvalData(X=X, y=y, feature_names=names)


def _timed(fn: Callable[..., object], *args: object, **kwargs: object) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def _tsai_style(model, data, repeats: int) -> None:  # type: ignore[no-untyped-def]
    """tsai's feature_importance: each variable's window shuffled across samples, with Keras
    predict on the whole copy; mean squared error as the loss."""
    import numpy as np

    X = data.X.reshape(-1, STEPS, VARIABLES)
    base = np.mean((model.predict(X, batch_size=PEER_BATCH, verbose=0)[:, 0] - data.y) ** 2)
    rng = np.random.default_rng(0)
    for variable in range(VARIABLES):
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[:, :, variable] = X[rng.permutation(len(X)), :, variable]
            out = model.predict(shuffled, batch_size=PEER_BATCH, verbose=0)[:, 0]
            _ = np.mean((out - data.y) ** 2) - base


def _sklearn_cells(model, data, rows: int, repeats: int) -> None:  # type: ignore[no-untyped-def]
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.inspection import permutation_importance

    class Windows(RegressorMixin, BaseEstimator):  # type: ignore[misc]
        def fit(self, X, y):  # type: ignore[no-untyped-def]
            return self

        def predict(self, X):  # type: ignore[no-untyped-def]
            shaped = X.reshape(-1, STEPS, VARIABLES)
            return model.predict(shaped, batch_size=PEER_BATCH, verbose=0)[:, 0]

    permutation_importance(
        Windows().fit(data.X[:rows], data.y[:rows]),
        data.X[:rows],
        data.y[:rows],
        n_repeats=repeats,
        random_state=0,
        scoring="neg_mean_squared_error",
    )


def speed(emit: Callable[[str], None]) -> None:
    from importance_tasks.analysis import prepare
    from importance_tasks.config import AnalysisConfig
    from importance_tasks.methods import make_method
    from importance_tasks.runner import STEP_REPEATS, STEP_ROWS, run_method, step_profile

    keras_model = _forecaster(STEPS, VARIABLES)
    emit("| windows | contender | settings | seconds | x floor | x ours |")
    emit("| ---: | --- | --- | ---: | ---: | ---: |")
    for n_windows in (10_000, 100_000):
        model, data = _data(n_windows, keras_model)
        model.predict(data.X[:64])
        keras_model.predict(data.X[:64].reshape(-1, STEPS, VARIABLES), verbose=0)
        forward = _timed(model.predict, data.X) / n_windows  # seconds per window
        evaluations = n_windows * (VARIABLES * REPEATS + 1)
        asked = AnalysisConfig(methods=("permutation",), n_repeats=REPEATS)
        prepared = prepare(model, data, asked)  # each variable's cells as a group
        model, config = prepared.model, prepared.config
        per_variable = make_method("permutation", **config.options_for("permutation"))
        ours = _timed(per_variable.compute, model, data, scoring="mse")
        default = _timed(run_method, "permutation", config, model, data, constant=())
        tsai = _timed(_tsai_style, keras_model, data, REPEATS)
        floor = forward * evaluations
        rows = [
            ("ours permutation, per variable", f"{REPEATS} repeats, all windows", ours),
            ("ours permutation as run (with by_step)", "+ profile on 1,000 x 2", default),
            ("tsai-style:keras", f"{REPEATS} repeats, all windows", tsai),
        ]
        emit(f"| {n_windows:,} | forward floor | | | | | ({1 / forward:,.0f} windows/s) |")
        for name, settings, seconds in rows:
            emit(
                f"| {n_windows:,} | {name} | {settings} | {seconds:.2f} | {seconds / floor:.2f} "
                f"| {seconds / ours:.2f} |"
            )
        if n_windows == 10_000:  # the per-step profile samples 1,000 windows at any size
            profile = _timed(step_profile, "permutation", config, model, data)
            cells = _timed(_sklearn_cells, keras_model, data, STEP_ROWS, STEP_REPEATS)
            cell_floor = forward * STEP_ROWS * (STEPS * VARIABLES * STEP_REPEATS + 1)
            for name, seconds in (("ours per-step profile", profile), ("sklearn:keras", cells)):
                emit(
                    f"| {STEP_ROWS:,} | {name} | each cell alone, {STEP_REPEATS} repeats | "
                    f"{seconds:.2f} | {seconds / cell_floor:.2f} | {seconds / profile:.2f} |"
                )


def memory_child(n_series: int) -> None:
    """In a fresh process: the table, its windows and a permutation; prints JSON."""
    import numpy as np
    import pandas as pd

    from importance_tasks.analysis import prepare
    from importance_tasks.config import AnalysisConfig
    from importance_tasks.keras import KerasModel
    from importance_tasks.keras.keras_model import for_data
    from importance_tasks.runner import run_method
    from importance_tasks.stage.inputs import data_digest
    from importance_tasks.windows import Windowing, read_windows

    rng = np.random.default_rng(0)
    per_series = MEMORY_STEPS // n_series
    columns = {f"v{i}": rng.normal(size=MEMORY_STEPS).astype(np.float32) for i in range(20)}
    frame = pd.DataFrame(columns)
    frame["y"] = rng.normal(size=MEMORY_STEPS)
    frame["t"] = np.tile(np.arange(per_series), n_series)
    if n_series > 1:
        frame["unit"] = np.repeat(np.arange(n_series), per_series)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "steps.parquet"
        frame.to_parquet(path)
        del frame, columns
        start = time.perf_counter()
        data = read_windows(
            path, steps=MEMORY_WINDOW, target="y",
            windowing=Windowing("t", "unit" if n_series > 1 else None),
        )  # fmt: skip
        read_s = time.perf_counter() - start
    data_digest(data)
    model = for_data(KerasModel(_forecaster(MEMORY_WINDOW, MEMORY_VARIABLES, "conv")), data)
    asked = AnalysisConfig(
        methods=("permutation",),
        method_options={"permutation": {"n_repeats": 2, "max_samples": 20_000}},
    )
    run_method("permutation", prepare(model, data, asked).config, model, data, constant=())
    print(json.dumps({"windows": data.n_rows, "read_s": read_s, "peak_mb": peak_rss_mb()}))


def memory(emit: Callable[[str], None]) -> None:
    emit("")
    emit(
        f"| table | windows | read s | peak RSS MB | within {BUDGET_MB:,} MB "
        "| windows as a copy MB |"
    )
    emit("| --- | ---: | ---: | ---: | --- | ---: |")
    for n_series in (1, 10):
        found = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(n_series)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        result = json.loads(found.stdout.strip().splitlines()[-1])
        copy_mb = result["windows"] * MEMORY_WINDOW * MEMORY_VARIABLES * 4 / 2**20
        emit(
            f"| {MEMORY_STEPS:,} steps x {MEMORY_VARIABLES} variables, {n_series} series, "
            f"T = {MEMORY_WINDOW} | {result['windows']:,} | {result['read_s']:.1f} | "
            f"{result['peak_mb']:,.0f} | {'yes' if result['peak_mb'] <= BUDGET_MB else 'no'} | "
            f"{copy_mb:,.0f} |"
        )


def main() -> None:
    import importlib.metadata as md

    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    emit("# Sequence models")
    emit("")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    emit(
        f"Generated by `benchmarks/sequence.py` on {when}; {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"tensorflow-cpu {md.version('tensorflow-cpu')}, keras {md.version('keras')}. "
        "How each contender is run: the docstring of benchmarks/sequence.py."
    )
    emit("")
    speed(emit)
    memory(emit)
    (HERE / "SEQUENCE.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory-child":
        memory_child(int(sys.argv[2]))
    else:
        main()
