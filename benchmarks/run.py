"""Speed and memory of our methods against the peers and the hardware floor, in one run.

    .venv/bin/python benchmarks/run.py          (make bench)

Every contender runs in this one process on the same saved Keras models and data (TensorFlow
is imported once). Before each contender the kernel's peak-memory mark is reset, so its peak
resident memory is measured on its own on top of what the process already holds. The script
prints a table of median seconds and ratios (to the floor and to our method) and rewrites
benchmarks/RESULTS.md; never edit that file by hand. Task start-up is the one thing measured
in fresh processes, since it is the cost of a fresh process.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
from peak_memory import peak_rss_mb, reset_peak, rss_mb  # noqa: E402  (benchmarks/ is on the path)

CACHE = HERE / ".cache"
N_ROWS = 10_000
N_REPEATS = 5
IG_STEPS = 32
SHAP_ROWS, SHAP_EVALS, LIME_ROWS, LIME_SAMPLES = 200, 210, 100, 5000
LIME_PEER_ROWS = 10  # rows the lime package explains, projected to LIME_ROWS
SAGE_PERMUTATIONS, SAGE_BACKGROUND = 256, 64
WORKLOADS = {"friedman": (10, "regression"), "wide": (100, "classification")}


def build(workload: str, n_features: int | None = None, n_rows: int = N_ROWS) -> tuple[Path, Path]:
    """Train (briefly: only speed matters) and save a model and its data, once."""
    features, task = WORKLOADS[workload]
    features = n_features or features
    tag = f"{workload}-{features}-{n_rows}"
    model_path, data_path = CACHE / f"{tag}.keras", CACHE / f"{tag}.npz"
    if model_path.exists() and data_path.exists():
        return model_path, data_path
    import numpy as np
    from sklearn.datasets import make_classification, make_friedman1

    from importance_tasks.demo_models import train_mlp

    CACHE.mkdir(exist_ok=True)
    if task == "regression":
        X, y = make_friedman1(n_samples=n_rows, n_features=features, random_state=0)
        model = train_mlp(X, y, hidden=(64, 32), epochs=2)
    else:
        X, y = make_classification(
            n_samples=n_rows,
            n_features=features,
            n_informative=min(10, features // 2),
            random_state=0,
        )
        model = train_mlp(
            X,
            y,
            hidden=(128, 64),
            n_outputs=2,
            output_activation="softmax",
            loss="sparse_categorical_crossentropy",
            epochs=2,
        )
    model.save(model_path)
    np.savez(data_path, X=X.astype(np.float32), y=y)
    return model_path, data_path


def _load(model_path: str, data_path: str):
    import numpy as np

    from importance_tasks.data import EvalData
    from importance_tasks.safe_keras import load_keras_file

    model = load_keras_file(model_path)
    arrays = np.load(data_path)
    names = tuple(f"f{i}" for i in range(arrays["X"].shape[1]))
    return model, EvalData(X=arrays["X"], y=arrays["y"], feature_names=names)


def _keras_predict(model, batch_size: int | None):
    def predict(X):
        kwargs = {} if batch_size is None else {"batch_size": batch_size}
        return model.keras_model.predict(X, verbose=0, **kwargs)

    return predict


def _sk_estimator(model, batch_size: int | None, classifier: bool):
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

    predict = _keras_predict(model, batch_size)

    class Regressor(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            return self

        def __sklearn_is_fitted__(self) -> bool:
            return True

        def predict(self, X):
            return predict(X)[:, 0]

    class Classifier(ClassifierMixin, Regressor):
        classes_ = np.arange(2)

        def predict_proba(self, X):
            return predict(X)

        def predict(self, X):
            return predict(X).argmax(axis=1)

    return Classifier() if classifier else Regressor()


def _warm_up(contender: str, model, data) -> None:
    """First calls pay one-off costs (imports, tracing); every contender gets them untimed."""
    from importance_tasks.data import EvalData
    from importance_tasks.methods import make_method

    small = EvalData(X=data.X[:200], y=data.y[:200], feature_names=data.feature_names)
    if contender.startswith("ours_"):
        make_method(contender[len("ours_") :], random_state=0, max_samples=50).compute(model, small)
    else:
        _keras_predict(model, None)(data.X[:64])
        import sklearn.inspection  # noqa: F401


def measure(contender: str, model, data, runs: int) -> dict:
    """Run one contender ``runs`` times after a warm-up; median seconds and its peak memory."""
    _warm_up(contender, model, data)
    reset_peak()
    before = rss_mb()
    results = [_run_once(contender, model, data) for _ in range(runs)]
    key = "seconds" if "seconds" in results[0] else "rows_per_s"
    peak = peak_rss_mb()
    return {
        **results[0],
        key: statistics.median(r[key] for r in results),
        "peak_rss_mb": peak,
        "added_mb": max(0.0, peak - before),
    }


def _run_once(contender: str, model, data) -> dict:
    """Time one contender once; returns seconds (timed part only) or a throughput."""
    import numpy as np

    classify = data.y.dtype.kind in "iu"
    n, f = data.X.shape
    start = time.perf_counter()
    projected = 1.0
    if contender == "floor_forward":  # aligned: TensorFlow reads it without a copy
        from importance_tasks.model import aligned_empty

        big = aligned_empty((max(1, 1_000_000 // n) * n, f))
        big[:] = np.tile(data.X, (max(1, 1_000_000 // n), 1))
        start = time.perf_counter()
        model.predict(big)
        rows_per_s = len(big) / (time.perf_counter() - start)
        return {"rows_per_s": rows_per_s}
    if contender == "floor_gradient":
        big = np.tile(data.X, (max(1, 400_000 // n), 1))
        weights = np.ones((len(big), model.predict(data.X[:1]).shape[1]), dtype=np.float32)
        model.gradient(big[:64], weights[:64])
        start = time.perf_counter()
        model.gradient(big, weights)
        return {"rows_per_s": len(big) / (time.perf_counter() - start)}
    if contender == "ours_permutation":
        from importance_tasks.methods import Permutation

        Permutation(n_repeats=N_REPEATS, random_state=0).compute(model, data)
    elif contender in ("sklearn_batch4096", "sklearn_default_batch"):
        from sklearn.inspection import permutation_importance

        batch = 4096 if contender == "sklearn_batch4096" else None
        columns = f if contender == "sklearn_batch4096" else 1  # default batch: project
        X = data.X[:, :] if columns == f else data.X
        estimator = _sk_estimator(model, batch, classify)
        scoring = "neg_log_loss" if classify else "neg_mean_squared_error"
        if columns == f:
            permutation_importance(
                estimator, X, data.y, scoring=scoring, n_repeats=N_REPEATS, random_state=0
            )
        else:  # one column's worth of predict calls, projected to all columns
            predict = _keras_predict(model, None)
            start = time.perf_counter()
            for _ in range(N_REPEATS):
                predict(data.X)
            projected = f
    elif contender == "plain_loop":
        predict = _keras_predict(model, None)
        rng = np.random.default_rng(0)
        for j in range(min(f, 2)):
            for _ in range(N_REPEATS):
                Xp = data.X.copy()
                Xp[:, j] = Xp[rng.permutation(n), j]
                predict(Xp)
        projected = f / min(f, 2)
    elif contender == "ours_integrated_gradients":
        from importance_tasks.methods import IntegratedGradients

        IntegratedGradients(n_steps=IG_STEPS, max_samples=n, random_state=0).compute(model, data)
    elif contender in ("ours_shap", "shap_permutation_keras", "shap_kernel_keras"):
        import shap

        rows = data.X[:SHAP_ROWS] if contender == "ours_shap" else data.X[:2]
        if contender == "ours_shap":
            from importance_tasks.methods import Shap

            Shap(
                algorithm="permutation",
                max_samples=SHAP_ROWS,
                max_evals=SHAP_EVALS,
                random_state=0,
                time_budget_s=0,  # the same work as the peer, never cut short
            ).compute(model, data)
        else:
            background = data.X[:100]
            predict = _keras_predict(model, None)
            fn = lambda X: predict(X)[:, -1]  # noqa: E731
            start = time.perf_counter()
            if contender == "shap_kernel_keras":
                shap.KernelExplainer(fn, background).shap_values(rows, silent=True)
            else:
                shap.explainers.Permutation(fn, shap.maskers.Independent(background, 100), seed=0)(
                    rows, max_evals=SHAP_EVALS, silent=True
                )
            projected = SHAP_ROWS / len(rows)
    elif contender in ("ours_lime", "lime_keras"):
        from importance_tasks.methods import Lime

        if contender == "ours_lime":
            Lime(
                num_samples=LIME_SAMPLES, max_samples=LIME_ROWS, random_state=0, time_budget_s=0
            ).compute(model, data)
        else:
            from lime.lime_tabular import LimeTabularExplainer

            predict = _keras_predict(model, None)
            explainer = LimeTabularExplainer(
                data.X,
                mode="classification" if classify else "regression",
                discretize_continuous=False,
                random_state=0,
            )
            fn = predict if classify else (lambda X: predict(X)[:, 0])
            start = time.perf_counter()
            for row in data.X[:LIME_PEER_ROWS]:
                explainer.explain_instance(row, fn, num_features=f, num_samples=LIME_SAMPLES)
            projected = LIME_ROWS / LIME_PEER_ROWS
    elif contender == "ours_sage":
        from importance_tasks.methods import Sage

        Sage(
            n_background=SAGE_BACKGROUND,
            max_samples=n,
            n_permutations=SAGE_PERMUTATIONS,
            random_state=0,
            time_budget_s=0,
        ).compute(model, data)
    elif contender == "sage_keras":
        import sage

        predict = _keras_predict(model, None)
        loss = "cross entropy" if classify else "mse"
        target = data.y if classify else data.y.astype(np.float64)
        fn = predict if classify else (lambda X: predict(X)[:, 0])
        imputer = sage.MarginalImputer(fn, data.X[:SAGE_BACKGROUND])
        estimator = sage.PermutationEstimator(imputer, loss, random_state=0)
        part = 32  # sage's per-batch work is linear in the orderings sampled: project
        start = time.perf_counter()
        estimator(data.X, target, batch_size=part, n_permutations=part, bar=False)
        projected = SAGE_PERMUTATIONS / part
    else:
        raise SystemExit(f"unknown contender {contender}")
    return {"seconds": (time.perf_counter() - start) * projected, "projected": projected != 1.0}


def _startup(model_path: Path, data_path: Path) -> dict[str, float]:
    """What each Airflow task process pays before it computes: interpreter + imports, model load."""
    code = (
        "import time; t0 = time.perf_counter();"
        "import importance_tasks.stage, tensorflow, keras; t1 = time.perf_counter();"
        "from importance_tasks.safe_keras import load_keras_file;"
        f"m = load_keras_file({str(model_path)!r}); import numpy as np;"
        f"X = np.load({str(data_path)!r})['X']; m.predict(X[:64]); t2 = time.perf_counter();"
        "print(t1 - t0, t2 - t1)"
    )
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        total = time.perf_counter() - start
        imports, load = (float(v) for v in out.stdout.split())
        samples.append((total, imports, load))
    med = [statistics.median(s[i] for s in samples) for i in range(3)]
    return {"process": med[0], "imports": med[1], "model_load": med[2]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="runs per contender (median)")
    args = parser.parse_args()
    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    import importlib.metadata as md

    emit("# Benchmark results")
    emit()
    emit(
        f"Generated by `benchmarks/run.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())};"
        " "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        + ", ".join(
            f"{p} {md.version(p)}"
            for p in ("tensorflow-cpu", "keras", "scikit-learn", "shap", "lime", "sage-importance")
        )
    )
    emit()
    emit(
        f"N = {N_ROWS:,} rows; permutation with {N_REPEATS} repeats; integrated gradients with "
        f"{IG_STEPS} steps; SHAP {SHAP_ROWS} rows x {SHAP_EVALS} evaluations; LIME {LIME_ROWS} "
        f"rows x {LIME_SAMPLES} samples; SAGE {SAGE_PERMUTATIONS} orderings over "
        f"{SAGE_BACKGROUND} background rows. Median of {args.runs} runs for ours and the floors "
        "(one run per peer) after an untimed warm-up, all in this one process; 'projected' rows "
        "were timed on a part of the work and scaled linearly. Peak RSS is the whole process "
        "while the contender ran (TensorFlow, the models and the data are several hundred MB); "
        "'added' is that peak minus the memory held before it started."
    )
    emit()
    emit("| workload | contender | seconds | x floor | x ours | peak RSS MB | added MB | note |")
    emit("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    groups = {
        "permutation": [
            "ours_permutation",
            "sklearn_batch4096",
            "sklearn_default_batch",
            "plain_loop",
        ],
        "integrated_gradients": ["ours_integrated_gradients"],
        "shap": ["ours_shap", "shap_permutation_keras", "shap_kernel_keras"],
        "lime": ["ours_lime", "lime_keras"],
        "sage": ["ours_sage", "sage_keras"],
    }
    for workload, (features, _) in WORKLOADS.items():
        model, data = _load(*map(str, build(workload)))
        model.predict(data.X[:64])  # trace the forward once, outside any timing
        forward = measure("floor_forward", model, data, args.runs)
        backward = measure("floor_gradient", model, data, args.runs)
        floors = {
            "permutation": features * N_REPEATS * N_ROWS / forward["rows_per_s"],
            "integrated_gradients": IG_STEPS * N_ROWS / backward["rows_per_s"],
            "shap": SHAP_ROWS * SHAP_EVALS * 100 / forward["rows_per_s"],
            "lime": LIME_ROWS * LIME_SAMPLES / forward["rows_per_s"],
            "sage": SAGE_PERMUTATIONS * (features + 1) * SAGE_BACKGROUND / forward["rows_per_s"],
        }
        emit(f"| {workload} | forward floor | | | | | | {forward['rows_per_s']:,.0f} rows/s |")
        emit(
            f"| {workload} | forward+backward floor | | | | | | "
            f"{backward['rows_per_s']:,.0f} rows/s |"
        )
        for method, contenders in groups.items():
            ours = None
            for contender in contenders:
                # Peers are 10-1000x slower; one run each keeps the script to minutes.
                runs = args.runs if contender.startswith("ours_") else 1
                result = measure(contender, model, data, runs)
                seconds = result["seconds"]
                ours = ours or seconds
                note = "projected" if result.get("projected") else ""
                if contender == "shap_kernel_keras":
                    note += " (KernelExplainer default nsamples)"
                emit(
                    f"| {workload} | {contender} | {seconds:.2f} | "
                    f"{seconds / floors[method]:.1f} | {seconds / ours:.1f} | "
                    f"{result['peak_rss_mb']:.0f} | {result['added_mb']:.0f} | {note} |"
                )
    emit()
    emit("Scaling of `permutation` (ours), seconds; scikit-learn (batch 4096) at 2,000 rows:")
    emit()
    emit("| rows | features | seconds | x floor | scikit-learn seconds | scikit-learn x ours |")
    emit("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n_rows, n_features in (
        (2_000, 100),
        (10_000, 100),
        (30_000, 100),
        (10_000, 10),
        (10_000, 50),
    ):
        model, data = _load(*map(str, build("wide", n_features, n_rows)))
        model.predict(data.X[:64])
        rows_per_s = measure("floor_forward", model, data, args.runs)["rows_per_s"]
        seconds = measure("ours_permutation", model, data, args.runs)["seconds"]
        floor = n_features * N_REPEATS * n_rows / rows_per_s
        peer = " | "
        if n_rows == 2_000:
            sk = measure("sklearn_batch4096", model, data, 1)["seconds"]
            peer = f"{sk:.2f} | {sk / seconds:.1f}"
        emit(f"| {n_rows:,} | {n_features} | {seconds:.2f} | {seconds / floor:.2f} | {peer} |")
    emit()
    from mixed import run as run_mixed  # benchmarks/ is on the path

    run_mixed(emit, args.runs)
    emit()
    from defaults import run as run_defaults

    run_defaults(emit)
    emit()
    emit(
        "Task start-up (what each Airflow task process pays before computing; a fresh process "
        "each time, median of 3), seconds:"
    )
    emit()
    emit("| model | process in all | imports (importance_tasks.stage, tensorflow) | model load |")
    emit("| --- | ---: | ---: | ---: |")
    up = _startup(*build("wide"))
    emit(f"| wide | {up['process']:.2f} | {up['imports']:.2f} | {up['model_load']:.2f} |")
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
