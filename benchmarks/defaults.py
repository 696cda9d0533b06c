"""Every method at its defaults, as `explain` and the DAG run them, at 10, 100 and 500 features,
with the two analysis steps (interactions, effects) timed again on their own.

    .venv/bin/python benchmarks/defaults.py     (also a section of make bench)

Binary classifiers (Dense 128-64, softmax) on scikit-learn's ``make_classification`` with the
informative features first (``shuffle=False``: the known truth), 10,000 rows. One timed run
per width after an untimed warm-up on 200 rows (tracing). Targets from issue 16: all default
methods summed <= 30 s at 100 features and <= 180 s at 500; every faithful method puts at least
8 of the 10 informative features in its top 10.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
N_ROWS = 10_000
WIDTHS = (10, 100, 500)
TARGETS = {100: 30.0, 500: 180.0}
FAITHFUL = ("permutation", "probe", "integrated_gradients", "shap", "lime", "sage")
WARM = ("permutation", "integrated_gradients", "lime")


def build(n_features: int) -> tuple[Path, Path]:
    """Train briefly and save a model whose informative features are the first ones, once."""
    model_path = CACHE / f"truth-{n_features}-{N_ROWS}.keras"
    data_path = CACHE / f"truth-{n_features}-{N_ROWS}.npz"
    if model_path.exists() and data_path.exists():
        return model_path, data_path
    from sklearn.datasets import make_classification

    from importance_tasks.cli.demo_models import train_mlp

    X, y = make_classification(
        n_samples=N_ROWS, n_features=n_features, n_informative=informative(n_features),
        n_redundant=0, shuffle=False, random_state=0,
    )  # fmt: skip
    model = train_mlp(
        X, y, hidden=(128, 64), n_outputs=2, output_activation="softmax",
        loss="sparse_categorical_crossentropy", epochs=5,
    )  # fmt: skip
    CACHE.mkdir(exist_ok=True)
    model.save(model_path)
    np.savez(data_path, X=X.astype(np.float32), y=y)
    return model_path, data_path


def informative(n_features: int) -> int:
    return min(10, n_features // 2)


def run(emit: Callable[[str], None]) -> None:
    import keras

    from importance_tasks.analysis import explain, steps_on
    from importance_tasks.config import AnalysisConfig
    from importance_tasks.data import EvalData
    from importance_tasks.keras import KerasModel

    emit(
        f"Every method at its defaults (`explain`, as the DAG runs them), {N_ROWS:,} rows, binary "
        "classifier with the informative features first; one run after a warm-up. 'top' is how "
        "many informative features the method puts in its top k (k = informative features)."
    )
    emit("")
    emit("| features | method | seconds | status | work done (decided ahead) | top |")
    emit("| ---: | --- | ---: | --- | --- | ---: |")
    for width in WIDTHS:
        model_path, data_path = build(width)
        arrays = np.load(data_path)
        names = tuple(f"x{i}" for i in range(width))
        data = EvalData(X=arrays["X"], y=arrays["y"], feature_names=names)
        model = KerasModel(keras.saving.load_model(model_path))
        small = EvalData(X=data.X[:200], y=data.y[:200], feature_names=names)
        explain(model, small, seed=0, skip_unsupported=True, methods=WARM)  # warm-up: tracing
        start = time.perf_counter()
        analysis = explain(model, data, seed=0, skip_unsupported=True)
        total = time.perf_counter() - start
        k = informative(width)
        for name, result in analysis.results.items():
            top = set(np.argsort(-np.nan_to_num(result.mean, nan=-np.inf))[:k])
            found = len(top & set(range(k)))
            settings = result.settings
            work = ", ".join(
                f"{key} {settings[key]:,}"
                for key in ("n_rows", "max_evals", "n_orderings", "max_orderings")
                if isinstance(settings.get(key), int)
            )
            emit(
                f"| {width} | {name} | {result.seconds:.2f} | {result.status} "
                f"| {work} | {found}/{k} |"
            )
        steps_start = time.perf_counter()
        results = analysis.results.values()
        found = steps_on(model, data, AnalysisConfig(), analysis.consensus, results)
        steps_s = time.perf_counter() - steps_start
        evaluations = found.interactions.evaluations if found.interactions else 0
        emit(
            f"| {width} | interactions + effects (in the wall time) | {steps_s:.2f} | | "
            f"interactions {evaluations:,} evaluations, {len(found.effects)} effects | |"
        )
        target = TARGETS.get(width)
        verdict = (
            ""
            if target is None
            else f" (target <= {target:.0f} s: {'met' if total <= target else 'MISSED'})"
        )
        emit(f"| {width} | **all, wall** | **{total:.1f}** | | | {verdict} |")


if __name__ == "__main__":
    run(print)
