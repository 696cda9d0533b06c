"""
### Example training pipeline

Trains a small Keras network on scikit-learn's diabetes data (shipped with scikit-learn, no
download) in Keras' structured-data style: one named input per column, `age` in whole years,
`sex` as strings, a random `site` string column (a known non-driver), with `Normalization` and
`StringLookup` inside the model. Registers it in MLflow with its evaluation table (strings
included), and updates the `mlflow_registered_model_versions` Asset naming the new version,
which schedules the `feature_importance` DAG on exactly that version.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from importance_tasks.airflow import REGISTERED_MODEL_VERSIONS, model_version_event
from importance_tasks.airflow.stage_group import RETRY_ARGS


@dag(
    dag_id="train_example",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["mlflow", "example"],
    params={
        "model_name": Param("diabetes_mlp", type="string", minLength=1),
        "alias": Param("champion", type=["null", "string"]),
        "epochs": Param(60, type="integer", minimum=1, maximum=1000),
    },
)
def train_example() -> None:
    @task(outlets=[REGISTERED_MODEL_VERSIONS], **RETRY_ARGS)
    def train_and_register(params=None, outlet_events=None) -> dict[str, str]:  # type: ignore[no-untyped-def]
        from importance_tasks.airflow.mlflow_connection import configure_mlflow
        from importance_tasks.cli.demo_models import mixed_diabetes_frames, train_structured
        from importance_tasks.mlflow_io.training import register_keras_model

        tracking_uri = configure_mlflow()
        if tracking_uri is None:
            raise RuntimeError("set the mlflow_default connection or MLFLOW_TRACKING_URI")
        train, test = mixed_diabetes_frames(seed=0)
        model = train_structured(train, target="target", epochs=params["epochs"])
        version = register_keras_model(
            model,
            name=params["model_name"],
            eval_frame=test,
            target="target",
            tracking_uri=tracking_uri,
            alias=params["alias"],
        )
        event = model_version_event(params["model_name"], version)
        outlet_events[REGISTERED_MODEL_VERSIONS].extra = event
        return event

    train_and_register()


train_example()
