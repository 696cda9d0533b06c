"""Do the stochastic methods' 95% intervals cover what they claim?

    .venv/bin/python benchmarks/coverage.py     (rewrites benchmarks/COVERAGE.md; also make bench)

For each stochastic method at its defaults (permutation, conditional permutation, SHAP, LIME,
SAGE), the same model and data are analysed with SEEDS seeds. For each of the 10 features the
method ranks highest on average, a seed's 95% interval should contain the mean of all the seeds'
estimates (the value the method converges to on this data) in about 95% of the seeds; the
target is at least 90%. The model is the benchmarks' 100-feature classifier (``defaults.py``),
on 2,000 of its rows drawn at random (its data comes ordered by class).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SEEDS = 20
ROWS = 2_000
METHODS = ("permutation", "conditional_permutation", "shap", "lime", "sage")
TARGET = 0.90


def main() -> None:
    import keras
    from defaults import build

    from importance_tasks.data import EvalData
    from importance_tasks.keras import KerasModel
    from importance_tasks.methods import make_method

    model_path, data_path = build(100)
    arrays = np.load(data_path)
    names = tuple(f"x{i}" for i in range(100))
    rows = np.random.default_rng(0).choice(len(arrays["y"]), ROWS, replace=False)
    data = EvalData(X=arrays["X"][rows], y=arrays["y"][rows], feature_names=names)
    model = KerasModel(keras.saving.load_model(model_path))
    lines = [
        "# Interval coverage",
        "",
        f"`benchmarks/coverage.py`: {SEEDS} seeds per method at its defaults, the benchmarks' "
        f"100-feature classifier on {ROWS:,} of its rows drawn at random. For each of the "
        "method's top 10 features (by the mean over seeds), the share of seeds whose 95% "
        f"interval contains the mean of all seeds' estimates; target >= {TARGET:.0%}.",
        "",
        "| method | coverage (all top-10 cells) | worst feature | status | seconds per run |",
        "| --- | ---: | ---: | --- | ---: |",
    ]
    for name in METHODS:
        means, lows, highs, statuses, seconds = [], [], [], set(), []
        for seed in range(SEEDS):
            start = time.perf_counter()
            result = make_method(name, random_state=seed).compute(model, data)
            seconds.append(time.perf_counter() - start)
            means.append(result.mean)
            lows.append(result.ci_low)
            highs.append(result.ci_high)
            statuses.add(result.status)
        mean, low, high = np.array(means), np.array(lows), np.array(highs)
        centre = mean.mean(axis=0)
        top = np.argsort(-centre)[:10]
        covered = (low[:, top] <= centre[top]) & (centre[top] <= high[:, top])
        per_feature = covered.mean(axis=0)
        verdict = "met" if covered.mean() >= TARGET else "MISSED"
        lines.append(
            f"| {name} | {covered.mean():.0%} ({verdict}) | {per_feature.min():.0%} | "
            f"{', '.join(sorted(statuses))} | {np.median(seconds):.1f} |"
        )
        print(lines[-1], flush=True)
    (HERE / "COVERAGE.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
