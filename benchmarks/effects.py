"""The two analysis steps against their floor and the peers a user would pick.

    .venv/bin/python benchmarks/effects.py      (make bench; rewrites benchmarks/EFFECTS.md)

On the 100-feature benchmark model of ``defaults.py`` (10,000 rows), for the top 8 features of
permutation's ranking (interactions) and the top 6 (effects), each contender once after the same
untimed warm-up, in this one process:
- interactions: ours (every pair's H² with 200 bootstrap draws, each feature's total H², on
  100 rows) against a direct loop over the definition (the same 100 rows as points and
  background, one forward call per point, through our traced forward: the loop is what the
  peer adds, not the model's speed);
- effects: ours (ALE with its band, partial dependence and 5 ICE lines on 11 grid points, 1,000
  rows) against scikit-learn's ``partial_dependence`` (``kind="average"``, 11 grid points, the
  same 1,000 rows) around a wrapper whose ``predict`` is Keras ``predict`` with
  ``batch_size=32,768`` (``:keras``), and around our traced forward (``:ours``, which
  separates what the forward buys from what the method buys): partial dependence only.
'x floor' divides by the time the same model evaluations take in our forward pass alone.
"""

from __future__ import annotations

import itertools
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

N_POINTS, TOP, EFFECTS, EFFECT_ROWS, PEER_BATCH = 100, 8, 6, 1000, 32_768


def _direct_h2(model, X, columns: list[int]) -> dict:  # type: ignore[no-untyped-def]
    """H² of every pair from its definition, one forward call per point."""
    import numpy as np

    def pd(cols: list[int]) -> np.ndarray:
        values = []
        for i in range(len(X)):
            rows = X.copy()
            rows[:, cols] = X[i, cols]
            values.append(model.predict(rows).mean())
        found = np.array(values)
        return found - found.mean()

    own = {c: pd([c]) for c in columns}
    out = {}
    for a, b in itertools.combinations(columns, 2):
        joint = pd([a, b])
        out[(a, b)] = np.sum((joint - own[a] - own[b]) ** 2) / np.sum(joint**2)
    return out


def _sklearn_pd(predict, X, columns: list[int]) -> None:  # type: ignore[no-untyped-def]
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.inspection import partial_dependence

    class Wrapped(RegressorMixin, BaseEstimator):  # type: ignore[misc]
        def fit(self, X, y):  # type: ignore[no-untyped-def]
            self.fitted_ = True
            return self

        def predict(self, X):  # type: ignore[no-untyped-def]
            return predict(X)[:, 1]

    estimator = Wrapped().fit(X, None)
    for column in columns:
        partial_dependence(estimator, X, [column], kind="average", grid_resolution=11)


def _timed(fn: Callable[..., object], *args: object, **kwargs: object) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def main() -> None:
    import importlib.metadata as md

    import keras
    import numpy as np
    from defaults import build

    from importance_tasks.data import EvalData
    from importance_tasks.effects import accumulated_effect, interactions
    from importance_tasks.keras import KerasModel
    from importance_tasks.methods import make_method

    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    model_path, data_path = build(100)
    arrays = np.load(data_path)
    names = tuple(f"x{i}" for i in range(100))
    data = EvalData(X=arrays["X"], y=arrays["y"], feature_names=names)
    keras_model = keras.saving.load_model(model_path)
    model = KerasModel(keras_model)
    ranked = make_method("permutation", random_state=0).compute(model, data, scoring="auto")
    order = [int(i) for i in np.argsort(ranked.rank)]
    rng = np.random.default_rng(0)
    points = data.X[rng.choice(data.n_rows, N_POINTS, replace=False)]
    sample = data.X[rng.choice(data.n_rows, EFFECT_ROWS, replace=False)]
    model.predict(data.X[:64])
    keras_model.predict(data.X[:64], verbose=0)
    forward = _timed(model.predict, np.tile(data.X, (4, 1))) / (4 * data.n_rows)

    top = [(names[i], [i]) for i in order[:TOP]]
    ours_h2 = _timed(interactions, model, points, top, n_rows=N_POINTS)
    direct = _timed(_direct_h2, model, points, order[:TOP])
    h2_floor = forward * N_POINTS**2 * (TOP + TOP * (TOP - 1) // 2)
    ours_ale = _timed(
        lambda: [accumulated_effect(model, sample, i, output=1) for i in order[:EFFECTS]]
    )
    by_keras = lambda X: keras_model.predict(X, batch_size=PEER_BATCH, verbose=0)  # noqa: E731
    peer_pd = _timed(_sklearn_pd, by_keras, sample, order[:EFFECTS])
    peer_ours = _timed(_sklearn_pd, lambda X: model.predict(X.astype(np.float32)), sample,
                       order[:EFFECTS])  # fmt: skip
    ale_floor = forward * EFFECTS * EFFECT_ROWS * (2 + 11)

    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    emit("# Interactions and effects")
    emit("")
    emit(
        f"Generated by `benchmarks/effects.py` on {when}; {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, tensorflow-cpu "
        f"{md.version('tensorflow-cpu')}, scikit-learn {md.version('scikit-learn')}. "
        "How each contender is run: the docstring of benchmarks/effects.py."
    )
    emit("")
    emit("| step | contender | settings | seconds | x floor | x ours |")
    emit("| --- | --- | --- | ---: | ---: | ---: |")
    rows = [
        ("interactions", "ours", f"{TOP} features, {N_POINTS} rows, 200 draws", ours_h2, h2_floor,
         ours_h2),
        ("interactions", "direct loop", "the same, no intervals", direct, h2_floor, ours_h2),
        ("effects", "ours (ALE, band, PD, ICE)", f"{EFFECTS} features, {EFFECT_ROWS} rows",
         ours_ale, ale_floor, ours_ale),
        ("effects", "sklearn partial_dependence:keras", "PD only, the same rows and grid",
         peer_pd, ale_floor, ours_ale),
        ("effects", "sklearn partial_dependence:ours", "the same, our traced forward",
         peer_ours, ale_floor, ours_ale),
    ]  # fmt: skip
    for step, name, settings, seconds, floor, ours in rows:
        emit(
            f"| {step} | {name} | {settings} | {seconds:.2f} | {seconds / floor:.1f} | "
            f"{seconds / ours:.2f} |"
        )
    (HERE / "EFFECTS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
