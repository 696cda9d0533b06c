"""Registering a trained Keras model the way this stage reads it back (demo, tests, DAGs)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["prepare_local_store", "register_keras_model"]

# What a model version needs to be served, per Keras backend it was trained on.
PIP_REQUIREMENTS = {
    "tensorflow": ["tensorflow-cpu==2.21.0", "keras>=3.13.2"],
    "jax": ["jax>=0.6", "keras>=3.13.2"],
    "torch": ["torch>=2.6", "keras>=3.13.2"],
}


def register_keras_model(
    model: Any,
    *,
    name: str,
    eval_frame: pd.DataFrame,
    target: str,
    tracking_uri: str,
    experiment: str = "training",
    alias: str | None = None,
    flavor: str | None = None,
) -> str:
    """Log ``model`` in a run with its evaluation data, register it, optionally set an alias.

    ``flavor`` is MLflow's ``tensorflow`` or ``keras`` (both write ``model.keras``); default:
    ``tensorflow`` on Keras' TensorFlow backend, ``keras`` (any backend) on the others.

    The run records what the importance stage looks for: the evaluation table as artifact
    ``evaluation.parquet`` and as a dataset input (context ``evaluation``), the ``target``
    param and the ``feature_names`` param. Returns the new version number.
    """
    import keras
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.exceptions import MlflowException

    from importance_tasks.errors import InputError

    backend = keras.backend.backend()
    flavor = flavor or ("tensorflow" if backend == "tensorflow" else "keras")
    fits = flavor == "keras" or (flavor == "tensorflow" and backend == "tensorflow")
    if not fits or backend not in PIP_REQUIREMENTS:
        raise InputError(
            f"flavor={flavor!r} on Keras' {backend} backend: log with flavor 'keras' (any of "
            f"{sorted(PIP_REQUIREMENTS)}) or 'tensorflow' (the TensorFlow backend)"
        )

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    features = [c for c in eval_frame.columns if c != target]
    log_model = mlflow.tensorflow.log_model if flavor == "tensorflow" else mlflow.keras.log_model
    with mlflow.start_run(), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "evaluation.parquet"
        eval_frame.to_parquet(path)
        mlflow.log_artifact(str(path))
        mlflow.log_params({"target": target, "feature_names": json.dumps(features)})
        try:  # file: and s3:-style artifact stores have a dataset source type; others don't
            source = mlflow.get_artifact_uri("evaluation.parquet")
            dataset = from_pandas(eval_frame, source=source, targets=target, name="evaluation")
        except MlflowException:
            dataset = from_pandas(eval_frame, targets=target, name="evaluation")
        mlflow.log_input(dataset, context="evaluation")
        info = log_model(
            model,
            name="model",
            pip_requirements=PIP_REQUIREMENTS[backend],
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    if alias:
        mlflow.MlflowClient().set_registered_model_alias(name, alias, version)
    return version


def prepare_local_store(folder: Path, *, experiments: tuple[str, ...]) -> str:
    """A SQLite-backed MLflow under ``folder`` whose ``experiments`` keep their artifacts
    there too (not in ``./mlruns``); returns its tracking URI."""
    import mlflow

    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    for experiment in experiments:
        if client.get_experiment_by_name(experiment) is None:
            client.create_experiment(
                experiment, artifact_location=(folder / "artifacts" / experiment).as_uri()
            )
    return uri
