"""The stage's steps in one process, without Airflow: plan, every job, aggregate, publish.

    .venv/bin/python benchmarks/stage_steps.py

A real MLflow server (SQLite) with the 100-feature known-truth model of ``defaults.py``
registered with its 10,000 evaluation rows; every default method. Prints each step's seconds
and, per job, the packing's estimate beside the measured time (what ``stage.packing`` packs
by). The DAG's timeline (``dag_run.py``) adds each task's start-up and the scheduling between
tasks to these.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def run(emit: Callable[[str], None]) -> None:
    import numpy as np
    import pandas as pd
    from defaults import build  # benchmarks/ is on the path

    from importance_tasks.config import AnalysisConfig
    from importance_tasks.keras import load_keras_file
    from importance_tasks.mlflow_io.training import register_keras_model
    from importance_tasks.stage import aggregate, compute_jobs, jobs, plan, publish
    from importance_tasks.stage.packing import estimated_seconds
    from tests.conftest import start_mlflow_server, stop_process_group

    model_path, data_path = build(100)
    arrays = np.load(data_path)
    frame = pd.DataFrame(arrays["X"], columns=[f"x{i}" for i in range(arrays["X"].shape[1])])
    frame["y"] = arrays["y"]
    server, tracking_uri = start_mlflow_server(Path(tempfile.mkdtemp()) / "mlflow")
    try:
        register_keras_model(
            load_keras_file(model_path).keras_model, name="steps_100", eval_frame=frame,
            target="y", tracking_uri=tracking_uri, alias="champion",
        )  # fmt: skip
        start = time.perf_counter()
        planned = plan("steps_100@champion", AnalysisConfig(), tracking_uri=tracking_uri)
        seconds = {"plan": time.perf_counter() - start}
        emit("| job | estimated s | measured s |")
        emit("| --- | ---: | ---: |")
        for job in jobs(planned):
            start = time.perf_counter()
            compute_jobs(planned, [job])
            took = time.perf_counter() - start
            emit(f"| {job.label} | {estimated_seconds(planned, job):.2f} | {took:.2f} |")
        for name, step in (("aggregate", aggregate), ("publish", publish)):
            start = time.perf_counter()
            step(planned)
            seconds[name] = time.perf_counter() - start
    finally:
        stop_process_group(server)
    emit("")
    emit("| step | seconds |")
    emit("| --- | ---: |")
    for name, value in seconds.items():
        emit(f"| {name} | {value:.2f} |")


if __name__ == "__main__":
    run(print)
