"""
### Feature importance of a registered Keras model

Which inputs matter to a model in the MLflow registry, by several methods in parallel.

* **resolve** pins the model version (an alias is resolved once), finds and checks the
  evaluation data, and opens (or finds again) the analysis run in MLflow.
* **compute** runs the methods (and row shards of large data) as mapped tasks, packed by their
  estimated cost: cheap methods share a task, an expensive one gets its own, and there are at
  most `compute_slots` of them (default: the worker's processors), since each task pays about
  9 s of start-up (TensorFlow, model and data). The packing is in `resolve`'s log.
* **aggregate** combines the rankings (consensus, agreement between methods, comparison with
  the previous version).
* **publish** writes the report and the manifest, and tags the model version.

Runs when a training pipeline updates the `mlflow_registered_model_versions` Asset (it
analyses exactly the versions in the events), or by hand with the Params below.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from importance_tasks.airflow import REGISTERED_MODEL_VERSIONS, importance_stage
from importance_tasks.airflow.params import analysis_params


@dag(
    dag_id="feature_importance",
    schedule=[REGISTERED_MODEL_VERSIONS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    doc_md=__doc__,
    tags=["mlflow", "importance"],
    params={
        "model_name": Param(None, type=["null", "string"], description="Registered model name"),
        "model_alias": Param(
            None, type=["null", "string"], description="Alias, e.g. champion (or give a version)"
        ),
        "model_version": Param(
            None, type=["null", "string"], pattern=r"^[0-9]+$", description="Version number"
        ),
        "data_uri": Param(
            None,
            type=["null", "string"],
            description="Evaluation table (parquet/CSV path or MLflow artifact URI); "
            "empty: the data the model's run logged",
        ),
        "target": Param(
            None,
            type=["null", "string", "array"],
            items={"type": "string"},
            description="Target column; for a model with several outputs, one per output "
            "analysed (a list, or names separated by commas)",
        ),
        "compute_slots": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            description="Most compute tasks per analysis; empty: the worker's processors",
        ),
        **analysis_params(),
    },
)
def feature_importance() -> None:
    importance_stage(group_id="analysis")


feature_importance()
