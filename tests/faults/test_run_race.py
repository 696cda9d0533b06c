"""Which run an analysis has, when its creation races: a create that commits late after
sorting first, and a create the client retried that commits twice. Against a real MLflow
server, through the fault proxy; each interleaving lost or duplicated a run before runs were
settled by a claim (``runs._claimed_run``)."""

from __future__ import annotations

import threading
import time
import uuid

import mlflow
import pytest

from importance_tasks.contract import RunTag
from importance_tasks.mlflow_io.runs import experiment_id, open_run
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(mlflow_server):
    proxy = FaultProxy(mlflow_server)
    yield proxy
    proxy.close()


def _open(uri: str, experiment: str, key: str) -> str:
    run_id, _ = open_run(
        mlflow.MlflowClient(uri),
        experiment=experiment,
        key=key,
        run_name="race",
        tags={},
        params={"model_name": "race"},
    )
    return run_id


def _live(uri: str, experiment: str, key: str) -> list[str]:
    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment).experiment_id
    return [r.info.run_id for r in client.search_runs([exp], f"tags.`{RunTag.KEY}` = '{key}'")]


def _fresh(uri: str) -> tuple[str, str]:
    key = uuid.uuid4().hex
    experiment = f"race-{key[:8]}"
    experiment_id(mlflow.MlflowClient(uri), experiment)
    return experiment, key


def test_a_slow_create_that_sorts_first_does_not_take_the_run_away(mlflow_server, proxy):
    """Task A's create is slow (sent first, so its run starts earlier, committed last); task
    B creates and starts logging meanwhile. Both must end in one live run."""
    experiment, key = _fresh(mlflow_server)
    proxy.hold("/runs/create", 3.0)
    opened: dict[str, str] = {}
    slow = threading.Thread(
        target=lambda: opened.update(a=_open(proxy.uri, experiment, key)), daemon=True
    )
    slow.start()
    assert proxy.arrived.wait(30), "task A never sent its create"
    opened["b"] = _open(mlflow_server, experiment, key)
    slow.join(90)
    assert opened["a"] == opened["b"]
    assert _live(mlflow_server, experiment, key) == [opened["b"]]
    run = mlflow.MlflowClient(mlflow_server).get_run(opened["b"])
    assert run.info.lifecycle_stage == "active" and run.data.params["model_name"] == "race"


def test_a_retried_create_that_commits_twice_leaves_one_run(mlflow_server, proxy):
    """The client's create times out and is retried: the first attempt commits late, after
    the task has its answer. A later task (a retry, another DAG run) must find the same run,
    and no second run of the analysis stays."""
    experiment, key = _fresh(mlflow_server)
    proxy.hold("/runs/create", 1.5, late_copy=True)
    first = _open(proxy.uri, experiment, key)
    deadline = time.monotonic() + 30
    while len(_live(mlflow_server, experiment, key)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # until the late copy has committed
    assert len(_live(mlflow_server, experiment, key)) == 2
    assert _open(mlflow_server, experiment, key) == first
    assert _live(mlflow_server, experiment, key) == [first]
