"""A real scheduler with LocalExecutor and PostgreSQL: the training DAG's Asset event leads to an
analysis of exactly that version, and the method tasks run in parallel."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import mlflow
import pytest
import sqlalchemy as sa

from importance_tasks.engine import DEFAULT_METHODS
from tests.airflow.conftest import AIRFLOW, airflow_env, run_airflow
from tests.conftest import _free_port, stop_process_group

pytestmark = [pytest.mark.integration, pytest.mark.services]


@pytest.fixture
def scheduler(tmp_path, postgres_database, mlflow_server):
    port = _free_port()
    env = airflow_env(
        tmp_path,
        MLFLOW_TRACKING_URI=mlflow_server,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgres_database,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=f"http://localhost:{port}",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://localhost:{port}/execution/",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
    )
    assert run_airflow(env, "db", "migrate").returncode == 0
    assert run_airflow(env, "dags", "reserialize").returncode == 0
    for dag_id in ("train_example", "feature_importance"):
        assert run_airflow(env, "dags", "unpause", dag_id).returncode == 0
    processes = [
        subprocess.Popen(
            [AIRFLOW, *command],
            env=env,
            start_new_session=True,
            stdout=open(tmp_path / f"{command[0]}.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        for command in (["api-server", "--port", str(port)], ["scheduler"], ["dag-processor"])
    ]
    yield env, postgres_database
    for process in processes:
        stop_process_group(process)


def _wait_for_run(engine, dag_id: str, *, run_type: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            row = (
                conn.execute(
                    sa.text(
                        "select run_id, state, conf from dag_run where dag_id = :d and "
                        "run_type = :t order by id desc limit 1"
                    ),
                    {"d": dag_id, "t": run_type},
                )
                .mappings()
                .first()
            )
        if row and row["state"] in ("success", "failed"):
            return dict(row)
        time.sleep(2)
    raise AssertionError(f"no finished {run_type} run of {dag_id} within {timeout} s")


def test_asset_event_triggers_analysis_with_parallel_methods(scheduler, mlflow_server):
    env, database = scheduler
    name = f"sched-{uuid.uuid4().hex[:6]}"
    conf = {"model_name": name, "alias": "champion", "epochs": 5}
    assert (
        run_airflow(env, "dags", "trigger", "train_example", "-c", json.dumps(conf)).returncode == 0
    )
    engine = sa.create_engine(database)
    trained = _wait_for_run(engine, "train_example", run_type="manual", timeout=300)
    assert trained["state"] == "success"
    analysed = _wait_for_run(engine, "feature_importance", run_type="asset_triggered", timeout=400)
    assert analysed["state"] == "success"

    client = mlflow.MlflowClient(mlflow_server)
    tags = client.get_model_version(name, "1").tags
    assert tags["importance.status"] == "complete"
    run = client.get_run(tags["importance.run_id"])
    assert run.data.params["model_name"] == name and run.data.params["model_version"] == "1"

    with engine.connect() as conn:
        rows = (
            conn.execute(
                sa.text(
                    "select map_index, start_date, end_date, hostname, pid from task_instance "
                    "where dag_id = 'feature_importance' and run_id = :r "
                    "and task_id = 'analysis.compute'"
                ),
                {"r": analysed["run_id"]},
            )
            .mappings()
            .all()
        )
    assert len(rows) == len(DEFAULT_METHODS)
    for r in rows:
        seconds = (r["end_date"] - r["start_date"]).total_seconds()
        print(f"compute[{r['map_index']}] pid {r['pid']}: {r['start_date']} +{seconds:.1f} s")
    # The most method tasks running at one moment (parallelism is 4).
    concurrency = max(
        sum(1 for o in rows if o["start_date"] <= r["start_date"] < o["end_date"]) for r in rows
    )
    print(f"at most {concurrency} method tasks ran at once")
    assert concurrency >= 2, "the method tasks did not overlap in time"
    assert len({r["pid"] for r in rows}) >= 2  # separate worker processes
