"""Registration to manifest with the registry driving the pipeline, in a running `make ui`.

    make ui                                        (in another terminal; leave it running)
    .venv/bin/python benchmarks/registry_timeline.py

Trains the demo's diabetes MLP, registers it from this process (as a notebook or a CI job
outside Airflow would) against the `make ui` MLflow server, and waits for the version's
`importance.status` tag; prints the seconds from registration to the analysis run's end (its
manifest is written last) and the tags. Airflow's timeline of the same run (Asset event, DAG
run, each task) is in `.demo/airflow/airflow.db` (tables `asset_event`, `dag_run`,
`task_instance`).
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
URI = "http://127.0.0.1:5000"
NAME = "diabetes_mlp"


def main() -> int:
    import mlflow

    from importance_tasks.cli.demo_models import diabetes_frames, train_mlp
    from importance_tasks.mlflow_io.training import register_keras_model

    train, test = diabetes_frames(seed=0)
    features = [c for c in train.columns if c != "target"]
    model = train_mlp(
        train[features].to_numpy(), train["target"].to_numpy(), epochs=40, learning_rate=0.001
    )
    version = register_keras_model(
        model, name=NAME, eval_frame=test, target="target", tracking_uri=URI
    )
    registered = time.time()
    print(f"registered {NAME} version {version} at {time.strftime('%H:%M:%S')}", flush=True)
    client = mlflow.MlflowClient(URI)
    while client.get_model_version(NAME, version).tags.get("importance.status") != "complete":
        if time.time() - registered > 600:
            print("no complete analysis within 600 s", file=sys.stderr)
            return 1
        time.sleep(0.5)
    tags = client.get_model_version(NAME, version).tags
    run = client.get_run(tags["importance.run_id"]).info
    print(
        f"analysis run started {run.start_time / 1000 - registered:.1f} s and ended "
        f"{run.end_time / 1000 - registered:.1f} s after the registration (manifest written last)"
    )
    for key, value in sorted(tags.items()):
        print(f"  {key} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
