"""A real scheduler with LocalExecutor and PostgreSQL: the training DAG's Asset event leads to an
analysis of exactly that version, the method tasks run in parallel, and a task that meets an
MLflow outage is retried by Airflow and then succeeds."""

from __future__ import annotations

import json
import os
import uuid

import mlflow
import pytest

from importance_tasks.contract import Metric, VersionStatus, VersionTag
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
DEPLOYED = ("permutation", "probe", "integrated_gradients")


@pytest.fixture
def proxy(mlflow_server):
    """The tasks reach MLflow through a proxy that can answer 503 for a while."""
    from tests.faults.proxy import FaultProxy

    proxy = FaultProxy(mlflow_server)
    yield proxy
    proxy.close()


@pytest.fixture
def scheduler(tmp_path, postgres_database, proxy):
    port = _free_port()
    env = scheduler_env(
        tmp_path,
        database=postgres_database,
        tracking_uri=proxy.uri,
        port=port,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        # A deployment's settings of record (the Variable ``importance_config``): three methods
        # that take seconds, enough for the packing to run them as parallel tasks.
        AIRFLOW_VAR_IMPORTANCE_CONFIG=json.dumps({"methods": list(DEPLOYED), "n_repeats": 2}),
    )
    for dag_id in ("train_example", "feature_importance"):
        assert run_airflow(env, "dags", "unpause", dag_id).returncode == 0
    commands = (["api-server", "--port", str(port)], ["scheduler"], ["dag-processor"])
    with airflow_components(env, commands, tmp_path) as processes:
        yield env, postgres_database, processes


def test_asset_event_triggers_analysis_in_parallel_and_outages_are_retried(
    scheduler, mlflow_server, proxy
):
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
    assert tags[VersionTag.STATUS] == VersionStatus.COMPLETE
    run = client.get_run(tags[VersionTag.RUN_ID])
    assert run.data.params["model_name"] == name and run.data.params["model_version"] == "1"
    family = [key.split("/") for key in run.data.metrics]
    computed = {parts[1] for parts in family if parts[0] == Metric.IMPORTANCE}
    assert computed == set(DEPLOYED)  # the Variable's methods, not the defaults

    rows = task_rows(database, "feature_importance", analysed["run_id"], "analysis.compute")
    # The deployment's methods packed into one task per processor (stage.packing).
    assert len(rows) == min(os.cpu_count() or 1, len(DEPLOYED))
    for r in rows:
        seconds = (r["end_date"] - r["start_date"]).total_seconds()
        print(f"compute[{r['map_index']}] pid {r['pid']}: {r['start_date']} +{seconds:.1f} s")
    concurrency = max_overlap(rows)  # parallelism is 4
    print(f"at most {concurrency} method tasks ran at once")
    assert concurrency >= 2, "the method tasks did not overlap in time"
    assert len({r["pid"] for r in rows}) >= 2  # separate worker processes

    # MLflow answers 503 to the next 4 requests: the /health checks of plan's first try
    # (1 + 2 + 4 s apart). It fails as transient, Airflow retries it 10 s later, and then the
    # analysis completes.
    proxy.fail_next(4)
    conf = {  # the trained model has lookups inside: weights would be skipped
        "model_name": name, "model_version": "1", "methods": ["permutation"], "n_repeats": 1,
        "experiment": name,
    }  # fmt: skip
    triggered = run_airflow(env, "dags", "trigger", "feature_importance", "-c", json.dumps(conf))
    assert triggered.returncode == 0, triggered.stderr[-2000:]
    retried = wait_for_run(
        database, "feature_importance", run_type="manual", timeout=300, components=processes
    )
    assert retried["state"] == "success"
    assert proxy.remaining == 0
    planned = task_rows(database, "feature_importance", retried["run_id"], "analysis.plan")
    assert [(r["state"], r["try_number"]) for r in planned] == [("success", 2)]
    experiment = client.get_experiment_by_name(name)
    assert len(client.search_runs([experiment.experiment_id])) == 1
