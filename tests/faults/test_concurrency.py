"""Analyses running at the same time, as separate processes against one MLflow server: two
models side by side, and the same model twice (two DAG runs of one model). Each analysis gets
one run of its own; the duplicate ends in that same run, with one result and no metric twice."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import mlflow
import pytest

from importance_tasks import contract
from importance_tasks.contract import MANIFEST, RunTag
from tests.conftest import register_friedman

pytestmark = pytest.mark.integration
METHODS = "permutation,probe,weights"


def _start(name: str, uri: str, out) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "importance_tasks.cli", "explain",
        "--model", f"models:/{name}@champion", "--tracking-uri", uri, "--log",
        "--methods", METHODS, "--experiment", "concurrency", "--json", str(out),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(processes) -> list[dict]:
    payloads = []
    for process, out in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        payloads.append(json.loads(out.read_text()))
    return payloads


def _live_runs(client, key: str) -> list:
    experiment = client.get_experiment_by_name("concurrency").experiment_id
    return client.search_runs([experiment], f"tags.`{RunTag.KEY}` = '{key}'")


def test_two_models_and_the_same_model_twice_at_the_same_time(friedman, mlflow_server, tmp_path):
    names = [f"conc-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    for name in names:
        register_friedman(friedman, mlflow_server, name)
    jobs = [(names[0], "a1"), (names[0], "a2"), (names[1], "b1")]
    processes = [
        (_start(name, mlflow_server, tmp_path / f"{tag}.json"), tmp_path / f"{tag}.json")
        for name, tag in jobs
    ]
    first, duplicate, other = _finish(processes)

    client = mlflow.MlflowClient(mlflow_server)
    assert first["run_id"] == duplicate["run_id"] != other["run_id"]
    assert first["consensus"] == duplicate["consensus"]  # one result for the duplicate
    for payload, name in ((first, names[0]), (other, names[1])):
        run = client.get_run(payload["run_id"])
        assert run.info.status == "FINISHED"
        assert run.data.params["model_name"] == name  # nothing of the other model's
        assert [r.info.run_id for r in _live_runs(client, run.data.tags[RunTag.KEY])] == [
            payload["run_id"]
        ]
        for key in run.data.metrics:
            assert len(client.get_metric_history(run.info.run_id, key)) == 1, key
        paths = {a.path for a in client.list_artifacts(run.info.run_id, "importance")}
        assert MANIFEST in paths
        local = mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path=contract.result_path("permutation")
        )
        with open(local) as handle:
            logged = json.load(handle)
        assert logged["features"] == [f"x{i}" for i in range(10)]
