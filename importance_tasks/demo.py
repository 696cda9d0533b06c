"""``make demo``: train a Keras model on scikit-learn's diabetes data and rank its inputs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from importance_tasks.cli import main as cli_main
from importance_tasks.demo_models import diabetes_frames, train_mlp

DEMO_DIR = Path(os.environ.get("IMPORTANCE_DEMO_DIR", ".demo"))


def main() -> int:
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    train, test = diabetes_frames(seed=0)
    features = [c for c in train.columns if c != "target"]
    print(f"training a Keras MLP on diabetes ({len(train)} rows, {len(features)} features)")
    model = train_mlp(
        train[features].to_numpy(), train["target"].to_numpy(), epochs=40, learning_rate=0.001
    )
    model_path = DEMO_DIR / "diabetes.keras"
    data_path = DEMO_DIR / "diabetes_eval.csv"
    model.save(model_path)
    test.to_csv(data_path, index=False)
    print(f"saved {model_path} and {data_path}; ranking inputs on the {len(test)} held-out rows\n")
    return cli_main(
        [
            "explain",
            "--model",
            str(model_path),
            "--data",
            str(data_path),
            "--target",
            "target",
            "--n-repeats",
            "10",
            "--json",
            str(DEMO_DIR / "importance.json"),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
