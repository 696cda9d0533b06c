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
SHAP_ROWS, LIME_ROWS, LIME_SAMPLES = 200, 100, 5000
SHAP_PEER_ROWS, LIME_PEER_ROWS = 4, 10  # rows the per-row peers explain, projected
SAGE_PERMUTATIONS, SAGE_BACKGROUND, SAGE_BATCH = 256, 64, 128  # SAGE_BATCH: our loop size
# The peers' Keras predict at its best ordinary setting: one large batch, as ours.
PEER_BATCH = 32_768
WORKLOADS = {
    "friedman": (10, "regression"),
    "wide": (100, "classification"),
    "wide500": (500, "classification"),
}


def shap_evals(n_features: int) -> int:
    """Evaluations per explained row: shap's permutation explainer needs at least 2f + 1."""
    return 2 * n_features + 10


def build(workload: str, n_features: int | None = None, n_rows: int = N_ROWS) -> tuple[Path, Path]:
    """Train (briefly: only speed matters) and save a model and its data, once."""
    features, task = WORKLOADS[workload]
    features = n_features or features
    workload = workload.removesuffix("500")
    tag = f"{workload}-{features}-{n_rows}"
    model_path, data_path = CACHE / f"{tag}.keras", CACHE / f"{tag}.npz"
    if model_path.exists() and data_path.exists():
        return model_path, data_path
    import numpy as np
    from sklearn.datasets import make_classification, make_friedman1

    from importance_tasks.cli.demo_models import train_mlp

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
    from importance_tasks.keras.safe_load import load_keras_file

    model = load_keras_file(model_path)
    arrays = np.load(data_path)
    names = tuple(f"f{i}" for i in range(arrays["X"].shape[1]))
    return model, EvalData(X=arrays["X"], y=arrays["y"], feature_names=names)


def _peer_predict(model, forward: str):
    """The model function a peer is handed: Keras ``predict`` at ``PEER_BATCH`` rows a batch
    (``forward="keras"``), or our traced forward (``forward="ours"``)."""
    if forward == "ours":
        return model.predict
    return lambda X: model.keras_model.predict(X, verbose=0, batch_size=PEER_BATCH)


def _sk_estimator(predict, classifier: bool):
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

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
    if contender.startswith("ours_"):
        _run_once(contender, model, data, rows=200)
    else:
        for forward in ("keras", "ours"):
            _peer_predict(model, forward)(data.X[:64])
        import lime.lime_tabular  # noqa: F401
        import sage  # noqa: F401
        import shap  # noqa: F401
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


def _floor(contender: str, model, data) -> dict:
    """Rows per second of the forward pass, the forward and backward pass, or the rest of the
    network after the first Dense layer (a copy's low-rank update included)."""
    import numpy as np

    from importance_tasks.model import aligned_empty

    n, f = data.X.shape
    if contender == "floor_forward":  # aligned: TensorFlow reads it without a copy
        big = aligned_empty((max(1, 1_000_000 // n) * n, f))
        big[:] = np.tile(data.X, (max(1, 1_000_000 // n), 1))
        start = time.perf_counter()
        model.predict(big)
        return {"rows_per_s": len(big) / (time.perf_counter() - start)}
    if contender == "floor_rest":
        from importance_tasks.keras import KerasModel

        forced = KerasModel(model.keras_model, rank_one_updates=True)  # the path, on any width
        at = forced.first_dense().at(data.X)
        copies = [(np.array([j % f]), data.X[:, [j % f]]) for j in range(16)]
        at.predict_copies(copies[:1])
        start = time.perf_counter()
        for _ in range(max(1, 1_000_000 // (16 * n))):
            at.predict_copies(copies)
        return {
            "rows_per_s": max(1, 1_000_000 // (16 * n)) * 16 * n / (time.perf_counter() - start)
        }
    big = np.tile(data.X, (max(1, 400_000 // n), 1))
    weights = np.ones((len(big), model.predict(data.X[:1]).shape[1]), dtype=np.float32)
    model.gradient(big[:64], weights[:64])
    start = time.perf_counter()
    model.gradient(big, weights)
    return {"rows_per_s": len(big) / (time.perf_counter() - start)}


def _run_once(contender: str, model, data, rows: int | None = None) -> dict:
    """Time one contender once; returns seconds (timed part only) or a throughput. ``rows``
    runs ours on that many rows only (the warm-up)."""
    import numpy as np

    from importance_tasks.data import EvalData
    from importance_tasks.keras import KerasModel

    if contender.startswith("floor_"):
        return _floor(contender, model, data)
    if rows is not None:
        data = EvalData(X=data.X[:rows], y=data.y[:rows], feature_names=data.feature_names)
    classify = data.y.dtype.kind in "iu"
    n, f = data.X.shape
    method, _, forward = contender.partition(":")
    start = time.perf_counter()
    projected = 1.0
    if contender in ("ours_permutation", "ours_permutation_full_forward"):
        from importance_tasks.methods import Permutation

        if contender.endswith("full_forward"):
            model = KerasModel(model.keras_model, rank_one_updates=False)
            model.predict(data.X[:64])
            start = time.perf_counter()
        Permutation(n_repeats=N_REPEATS, random_state=0).compute(model, data)
    elif contender == "ours_conditional_permutation":
        from importance_tasks.methods import ConditionalPermutation

        ConditionalPermutation(n_repeats=N_REPEATS, random_state=0).compute(model, data)
    elif method == "sklearn":
        from sklearn.inspection import permutation_importance

        estimator = _sk_estimator(_peer_predict(model, forward), classify)
        scoring = "neg_log_loss" if classify else "neg_mean_squared_error"
        permutation_importance(
            estimator, data.X, data.y, scoring=scoring, n_repeats=N_REPEATS, random_state=0
        )
    elif contender == "ours_integrated_gradients":
        from importance_tasks.methods import IntegratedGradients

        IntegratedGradients(n_steps=IG_STEPS, max_samples=n, random_state=0).compute(model, data)
    elif contender == "ours_shap":
        from importance_tasks.methods import Shap

        Shap(
            algorithm="permutation",
            max_samples=min(SHAP_ROWS, n),
            max_evals=shap_evals(f),
            random_state=0,
            time_budget_s=0,  # the same work as the peer, never cut short
        ).compute(model, data)
    elif method in ("shap_permutation", "shap_kernel"):
        import shap

        background = data.X[:100]
        predict = _peer_predict(model, forward)
        fn = lambda X: predict(X)[:, -1]  # noqa: E731
        peer_rows = data.X[:SHAP_PEER_ROWS]
        if method == "shap_kernel":
            shap.KernelExplainer(fn, background).shap_values(
                peer_rows, nsamples=shap_evals(f), silent=True
            )
        else:
            masker = shap.maskers.Independent(background, 100)
            shap.explainers.Permutation(fn, masker, seed=0)(
                peer_rows, max_evals=shap_evals(f), silent=True
            )
        projected = SHAP_ROWS / SHAP_PEER_ROWS
    elif contender == "ours_lime":
        from importance_tasks.methods import Lime

        Lime(
            num_samples=LIME_SAMPLES, max_samples=min(LIME_ROWS, n), random_state=0, time_budget_s=0
        ).compute(model, data)
    elif method == "lime":
        from lime.lime_tabular import LimeTabularExplainer

        predict = _peer_predict(model, forward)
        explainer = LimeTabularExplainer(
            data.X,
            mode="classification" if classify else "regression",
            discretize_continuous=False,
            sample_around_instance=True,  # as ours
            random_state=0,
        )
        fn = predict if classify else (lambda X: predict(X)[:, 0])
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
    elif method == "sage":
        import sage

        predict = _peer_predict(model, forward)
        loss = "cross entropy" if classify else "mse"
        target = data.y if classify else data.y.astype(np.float64)
        fn = predict if classify else (lambda X: predict(X)[:, 0])
        imputer = sage.MarginalImputer(fn, data.X[:SAGE_BACKGROUND])
        estimator = sage.PermutationEstimator(imputer, loss, random_state=0)
        estimator(
            data.X, target, batch_size=SAGE_BATCH, n_permutations=SAGE_PERMUTATIONS, bar=False
        )
    else:
        raise SystemExit(f"unknown contender {contender}")
    return {"seconds": (time.perf_counter() - start) * projected, "projected": projected != 1.0}


def _startup(model_path: Path, data_path: Path) -> dict[str, float]:
    """What each Airflow task process pays before it computes: interpreter + imports, model load."""
    code = (
        "import time; t0 = time.perf_counter();"
        "import importance_tasks.stage, tensorflow, keras; t1 = time.perf_counter();"
        "from importance_tasks.keras.safe_load import load_keras_file;"
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


def _twinned(data, pairs: int):
    """``data`` with its first ``2 * pairs`` columns made into twin pairs (the second of each
    pair the first plus 10% noise): the model is the same, the data has clusters."""
    import numpy as np

    from importance_tasks.data import EvalData

    X = data.X.copy()
    rng = np.random.default_rng(0)
    for k in range(pairs):
        a = X[:, 2 * k]
        X[:, 2 * k + 1] = a + 0.1 * a.std() * rng.standard_normal(len(a)).astype(np.float32)
    return EvalData(X=X, y=data.y, feature_names=data.feature_names)


def conditional_on_clusters(emit, runs: int) -> None:
    """Conditional permutation where it does its own work: data whose columns form clusters
    (each clustered feature is shuffled within strata of its partners, with its own
    permutations), against the forward floor and marginal permutation on the same data."""
    from importance_tasks.dependence import dependence

    emit(
        "`conditional_permutation` on clustered data (the first 40% of the columns made into "
        "twin pairs; the same model), 5 repeats, all rows:"
    )
    emit()
    emit(
        "| workload | clusters | seconds | x floor | x rest floor | permutation seconds | "
        "x permutation |"
    )
    emit("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for workload in ("wide", "wide500"):
        features = WORKLOADS[workload][0]
        runs_here = 1 if features >= 500 else runs
        model, plain = _load(*map(str, build(workload)))
        data = _twinned(plain, features // 5)
        model.predict(data.X[:64])
        evals = features * N_REPEATS * N_ROWS
        floor = evals / measure("floor_forward", model, data, runs_here)["rows_per_s"]
        rest = evals / measure("floor_rest", model, data, runs_here)["rows_per_s"]
        marginal = measure("ours_permutation", model, data, runs_here)["seconds"]
        seconds = measure("ours_conditional_permutation", model, data, runs_here)["seconds"]
        clusters = len(dependence(data.X, data.feature_names).clusters)
        emit(
            f"| {workload} | {clusters} | {seconds:.2f} | {seconds / floor:.2f} | "
            f"{seconds / rest:.2f} | {marginal:.2f} | {seconds / marginal:.2f} |"
        )


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
        f"N = {N_ROWS:,} rows. Every contender runs the same number of timed runs (median of "
        f"{args.runs}; one at 500 features) after the same untimed warm-up, all in this one "
        "process. Peers are used as their documentation shows, at their best ordinary setting: "
        f"Keras `predict` with `batch_size={PEER_BATCH:,}` (`:keras`), and each is also handed "
        "our traced forward as its model function (`:ours`), which separates what the forward "
        "buys from what the method buys. 'projected' rows were timed on a part of the rows "
        "(the per-row explainers) and scaled linearly. 'x floor' divides by the time the same "
        "number of model evaluations takes in our forward pass alone; for permutation 'x rest "
        "floor' divides by the rest of the network after the first Dense layer (a copy's "
        "low-rank update included), the floor of the low-rank path. Peak RSS is the whole "
        "process while the contender ran; 'added' is that peak minus the memory held before it."
    )
    emit()
    emit(
        "| workload | contender | settings | seconds | x floor | x rest floor | x ours | "
        "peak RSS MB | added MB | note |"
    )
    emit("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    groups = {
        "permutation": [
            "ours_permutation",
            "ours_permutation_full_forward",
            "ours_conditional_permutation",
            "sklearn:keras",
            "sklearn:ours",
        ],
        "integrated_gradients": ["ours_integrated_gradients"],
        "shap": [
            "ours_shap",
            "shap_permutation:keras",
            "shap_permutation:ours",
            "shap_kernel:keras",
        ],
        "lime": ["ours_lime", "lime:keras", "lime:ours"],
        "sage": ["ours_sage", "sage:keras", "sage:ours"],
    }
    for workload, (features, _) in WORKLOADS.items():
        runs = 1 if features >= 500 else args.runs
        model, data = _load(*map(str, build(workload)))
        model.predict(data.X[:64])  # trace the forward once, outside any timing
        forward = measure("floor_forward", model, data, runs)
        rest = measure("floor_rest", model, data, runs)
        backward = measure("floor_gradient", model, data, runs)
        evals = {
            "permutation": features * N_REPEATS * N_ROWS,
            "integrated_gradients": IG_STEPS * N_ROWS,
            "shap": SHAP_ROWS * shap_evals(features) * 100,
            "lime": LIME_ROWS * LIME_SAMPLES,
            "sage": SAGE_PERMUTATIONS * (features + 1) * SAGE_BACKGROUND,
        }
        settings = {
            "permutation": f"{N_REPEATS} repeats, all rows",
            "integrated_gradients": f"{IG_STEPS} steps, all rows",
            "shap": f"{SHAP_ROWS} rows x {shap_evals(features)} evaluations, 100 background",
            "lime": f"{LIME_ROWS} rows x {LIME_SAMPLES} samples",
            "sage": (
                f"{SAGE_PERMUTATIONS} orderings in batches of {SAGE_BATCH}, "
                f"{SAGE_BACKGROUND} background"
            ),
        }
        for name, result in (("forward", forward), ("rest of network after first Dense", rest)):
            emit(
                f"| {workload} | {name} floor | | | | | | | | {result['rows_per_s']:,.0f} rows/s |"
            )
        emit(
            f"| {workload} | forward+backward floor | | | | | | | | "
            f"{backward['rows_per_s']:,.0f} rows/s |"
        )
        for method, contenders in groups.items():
            ours = None
            rate = backward if method == "integrated_gradients" else forward
            floor = evals[method] / rate["rows_per_s"]
            for contender in contenders:
                result = measure(contender, model, data, runs)
                seconds = result["seconds"]
                ours = ours or seconds
                note = "projected" if result.get("projected") else ""
                if contender == "ours_permutation_full_forward":
                    note = "low-rank updates off"
                if contender == "ours_conditional_permutation":
                    note = "clusters measured and strata drawn inside (x ours: against marginal)"
                if contender.startswith("shap_kernel"):
                    note += " (nsamples = the same evaluations)"
                rest_ratio = ""
                if method == "permutation":
                    rest_ratio = f"{seconds / (evals[method] / rest['rows_per_s']):.2f}"
                emit(
                    f"| {workload} | {contender} | {settings[method]} | {seconds:.2f} | "
                    f"{seconds / floor:.2f} | {rest_ratio} | {seconds / ours:.1f} | "
                    f"{result['peak_rss_mb']:.0f} | {result['added_mb']:.0f} | {note} |"
                )
    emit()
    emit("Scaling of `permutation` (ours), seconds; scikit-learn (`:keras`) at 2,000 rows:")
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
            sk = measure("sklearn:keras", model, data, args.runs)["seconds"]
            peer = f"{sk:.2f} | {sk / seconds:.1f}"
        emit(f"| {n_rows:,} | {n_features} | {seconds:.2f} | {seconds / floor:.2f} | {peer} |")
    emit()
    conditional_on_clusters(emit, args.runs)
    emit()
    from mixed import run as run_mixed  # benchmarks/ is on the path

    run_mixed(emit, args.runs)
    emit()
    from defaults import run as run_defaults

    run_defaults(emit)
    emit()
    from dag_run import run as run_dag

    emit(
        "The `feature_importance` DAG end to end (`benchmarks/dag_run.py`): LocalExecutor, "
        "PostgreSQL, a real MLflow server, the 100-feature model of the table above with every "
        "default method, from `airflow dags trigger` to the end of `publish_analysis` (the "
        "manifest is written last); 'starts at' counts from the trigger."
    )
    emit()
    run_dag(emit)
    emit()
    from stage_steps import run as run_steps

    emit(
        "The stage's steps in one process (`benchmarks/stage_steps.py`: no task start-up, no "
        "scheduling), with each job's packing estimate beside its measured time:"
    )
    emit()
    run_steps(emit)
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
    emit()
    from backends import run as run_backends
    from backends import section

    backend_lines: list[str] = []
    run_backends(backend_lines.append)
    emit(section(backend_lines))
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
