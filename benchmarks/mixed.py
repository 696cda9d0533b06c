"""Permutation on a Keras structured-data model: named inputs, strings, lookups inside.

    .venv/bin/python benchmarks/mixed.py        (also a section of make bench)

20 float columns (``Normalization``) and 5 string columns (``StringLookup`` one-hot, 8 to 40
categories) as 25 named inputs, 10,000 rows. Contenders, all in this process on the same model:

- the forward floor: the model's own traced forward on the columns as a dict of tensors (floats
  and ``tf.string``), 1,000,000 rows in batches of 32,768, nothing else;
- ours: ``Permutation`` at its defaults (5 repeats), whose copies hold the strings as codes
  and turn them back into strings inside the traced forward;
- scikit-learn's ``permutation_importance`` on the DataFrame of raw columns, around a wrapper
  that hands Keras ``predict`` the columns as a dict in one batch of 65,536 rows.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
N_ROWS, N_NUMERIC, N_STRINGS, N_REPEATS = 10_000, 20, 5, 5


def build() -> tuple[Path, Path]:
    """Train briefly (only speed matters) and save the model and its table, once."""
    model_path, data_path = CACHE / "mixed-25.keras", CACHE / "mixed-25.parquet"
    if model_path.exists() and data_path.exists():
        return model_path, data_path
    import pandas as pd

    from importance_tasks.cli.demo_models import train_structured

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=N_ROWS) for i in range(N_NUMERIC)})
    signal = frame[["x0", "x1", "x2"]].sum(axis=1).to_numpy()
    for i in range(N_STRINGS):
        levels = np.array([f"c{i}_{k}" for k in range(8 + 8 * i)])
        codes = rng.integers(0, len(levels), size=N_ROWS)
        frame[f"s{i}"] = levels[codes]
        signal = signal + (codes % 3 if i < 2 else 0)
    frame["y"] = signal + rng.normal(scale=0.1, size=N_ROWS)
    CACHE.mkdir(exist_ok=True)
    model = train_structured(frame, target="y", hidden=(64, 32), epochs=2)
    model.save(model_path)
    frame.to_parquet(data_path)
    return model_path, data_path


def _columns(frame) -> dict:
    import tensorflow as tf
    from pandas.api.types import is_numeric_dtype

    return {
        c: tf.constant(
            frame[c].to_numpy(np.float32) if is_numeric_dtype(frame[c]) else frame[c].to_numpy(str)
        )[:, None]
        for c in frame.columns
        if c != "y"
    }


def _median(fn: Callable[[], float], runs: int) -> float:
    fn()  # untimed warm-up: tracing, first allocations
    return statistics.median(fn() for _ in range(runs))


def run(emit: Callable[[str], None], runs: int = 3) -> None:
    import keras
    import pandas as pd
    import tensorflow as tf
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.inspection import permutation_importance

    from importance_tasks.data import read_eval_data
    from importance_tasks.keras import KerasModel
    from importance_tasks.methods import Permutation

    model_path, data_path = build()
    keras_model = keras.saving.load_model(model_path)
    frame = pd.read_parquet(data_path)
    data = read_eval_data(data_path, target="y")
    ours = KerasModel(keras_model).bind(data)

    forward = tf.function(lambda inputs: keras_model(inputs, training=False), reduce_retracing=True)
    tiles = max(1, 1_000_000 // N_ROWS)
    big = _columns(pd.concat([frame] * tiles, ignore_index=True))
    batch = 32_768

    def floor() -> float:
        start = time.perf_counter()
        for i in range(0, N_ROWS * tiles, batch):
            forward({k: v[i : i + batch] for k, v in big.items()})
        return N_ROWS * tiles / (time.perf_counter() - start)

    rows_per_s = _median(floor, runs)

    def ours_permutation() -> float:
        start = time.perf_counter()
        Permutation(n_repeats=N_REPEATS, random_state=0).compute(ours, data)
        return time.perf_counter() - start

    seconds = _median(ours_permutation, runs)

    class Wrapped(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            return self

        def predict(self, X):
            return keras_model.predict(_columns(X), batch_size=65_536, verbose=0)[:, 0]

    def sklearn_permutation() -> float:
        start = time.perf_counter()
        permutation_importance(
            Wrapped(), frame.drop(columns="y"), frame["y"], n_repeats=N_REPEATS,
            scoring="neg_mean_squared_error", random_state=0,
        )  # fmt: skip
        return time.perf_counter() - start

    peer = _median(sklearn_permutation, 1)
    n_features = N_NUMERIC + N_STRINGS
    floor_seconds = n_features * N_REPEATS * N_ROWS / rows_per_s
    emit(
        f"Structured-data model ({N_NUMERIC} float + {N_STRINGS} string named inputs, lookups "
        f"inside), {N_ROWS:,} rows, permutation with {N_REPEATS} repeats; median of {runs} runs "
        "(scikit-learn: one) after an untimed warm-up:"
    )
    emit("")
    emit("| contender | seconds | x floor | x ours | note |")
    emit("| --- | ---: | ---: | ---: | --- |")
    rows = [
        ("forward floor (dict of tensors)", floor_seconds, "", f"{rows_per_s:,.0f} rows/s"),
        ("ours_permutation", seconds, "1.0", "codes -> strings in the traced forward"),
        ("sklearn_dataframe_predict65536", peer, f"{peer / seconds:.1f}", "DataFrame -> dict"),
    ]
    for name, value, versus_ours, note in rows:
        emit(f"| {name} | {value:.2f} | {value / floor_seconds:.2f} | {versus_ours} | {note} |")


if __name__ == "__main__":
    run(print)
