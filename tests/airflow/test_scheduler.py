"""A real scheduler with LocalExecutor and PostgreSQL: the training DAG's Asset event leads to an
analysis of exactly that version, and the method tasks run in parallel."""

from __future__ import annotations

import json
import uuid

import mlflow
import pytest

from importance_tasks.config import DEFAULT_METHODS
from tests.airflow.conftest import (
    airflow_components,
    max_overlap,
    run_airflow,
    scheduler_env,
    task_rows,
    wait_for_run,
)
from tests.conftest import _free_port

pytestmark = [pytest.mark.integration, pytest.mark.services]


@pytest.fixture
def scheduler(tmp_path, postgres_database, mlflow_server):
    port = _free_port()
    env = scheduler_env(
        tmp_path,
        database=postgres_database,
        tracking_uri=mlflow_server,
        port=port,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
    )
    for dag_id in ("train_example", "feature_importance"):
        assert run_airflow(env, "dags", "unpause", dag_id).returncode == 0
    commands = (["api-server", "--port", str(port)], ["scheduler"], ["dag-processor"])
    with airflow_components(env, commands, tmp_path) as processes:
        yield env, postgres_database, processes


def test_asset_event_triggers_analysis_with_parallel_methods(scheduler, mlflow_server):
    env, database, processes = scheduler
    name = f"sched-{uuid.uuid4().hex[:6]}"
    conf = {"model_name": name, "alias": "champion", "epochs": 5}
    assert (
        run_airflow(env, "dags", "trigger", "train_example", "-c", json.dumps(conf)).returncode == 0
    )
    trained = wait_for_run(
        database, "train_example", run_type="manual", timeout=300, components=processes
    )
    assert trained["state"] == "success"
    analysed = wait_for_run(
        database,
        "feature_importance",
        run_type="asset_triggered",
        timeout=400,
        components=processes,
    )
    assert analysed["state"] == "success"

    client = mlflow.MlflowClient(mlflow_server)
    tags = client.get_model_version(name, "1").tags
    assert tags["importance.status"] == "complete"
    run = client.get_run(tags["importance.run_id"])
    assert run.data.params["model_name"] == name and run.data.params["model_version"] == "1"

    rows = task_rows(database, "feature_importance", analysed["run_id"], "analysis.compute")
    assert len(rows) == len(DEFAULT_METHODS)
    for r in rows:
        seconds = (r["end_date"] - r["start_date"]).total_seconds()
        print(f"compute[{r['map_index']}] pid {r['pid']}: {r['start_date']} +{seconds:.1f} s")
    concurrency = max_overlap(rows)  # parallelism is 4
    print(f"at most {concurrency} method tasks ran at once")
    assert concurrency >= 2, "the method tasks did not overlap in time"
    assert len({r["pid"] for r in rows}) >= 2  # separate worker processes
