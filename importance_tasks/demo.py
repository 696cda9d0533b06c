"""``make demo``: train a Keras model on scikit-learn's diabetes data, register it in a local
MLflow (SQLite, no server), analyse it through the registry and print the ranking."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from importance_tasks.cli import main as cli_main
from importance_tasks.demo_models import diabetes_frames, train_mlp

DEMO_DIR = Path(os.environ.get("IMPORTANCE_DEMO_DIR", ".demo")).resolve()
MODEL_NAME = "diabetes_mlp"
ALIAS = "champion"


def prepare_mlflow(folder: Path) -> str:
    """A SQLite-backed MLflow under ``folder`` whose experiments keep artifacts there too."""
    import mlflow

    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    for experiment in ("training", "importance"):
        if client.get_experiment_by_name(experiment) is None:
            client.create_experiment(
                experiment, artifact_location=(folder / "artifacts" / experiment).as_uri()
            )
    return uri


def main() -> int:
    from importance_tasks.mlflow_io.training import register_keras_model

    uri = prepare_mlflow(DEMO_DIR)
    train, test = diabetes_frames(seed=0)
    features = [c for c in train.columns if c != "target"]
    print(f"training a Keras MLP on diabetes ({len(train)} rows, {len(features)} features)")
    model = train_mlp(
        train[features].to_numpy(), train["target"].to_numpy(), epochs=40, learning_rate=0.001
    )
    version = register_keras_model(
        model, name=MODEL_NAME, eval_frame=test, target="target", tracking_uri=uri, alias=ALIAS
    )
    print(f"registered {MODEL_NAME} version {version} as @{ALIAS} in {uri}")
    print(f"analysing models:/{MODEL_NAME}@{ALIAS} on its {len(test)} held-out rows\n")
    code = cli_main(
        [
            "explain",
            "--model", f"models:/{MODEL_NAME}@{ALIAS}",
            "--tracking-uri", uri,
            "--log",
            "--n-repeats", "10",
            "--json", str(DEMO_DIR / "importance.json"),
        ]
    )  # fmt: skip
    if code == 0:
        print(
            f"\nopen the MLflow UI on it:\n  .venv/bin/mlflow ui --backend-store-uri {uri} "
            "--port 5000\nthen http://127.0.0.1:5000 -> experiment 'importance' "
            f"(report: importance/report.html), or Models -> {MODEL_NAME} -> version {version}"
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
