"""Faults injected for real around a real MLflow server: killed and restarted, unreachable,
answering 503 for a while, receiving every write twice; and a task process SIGKILLed while it
logs. After each, the analysis finishes in exactly one run, with no metric logged twice and the
manifest only once everything else is there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import mlflow
import pytest

from importance_tasks import contract
from importance_tasks.contract import MANIFEST, JobStatus, RunTag, VersionStatus
from importance_tasks.errors import ServiceUnavailableError, is_retryable
from importance_tasks.mlflow_io.client import HEALTH_BACKOFF_S, connect
from importance_tasks.stage import aggregate, publish
from tests.conftest import _free_port, register_friedman, start_mlflow_server, stop_process_group
from tests.faults.proxy import FaultProxy
from tests.stage_steps import compute_method, plan_analysis

pytestmark = pytest.mark.integration
METHODS = ["permutation", "probe", "weights"]


def _assert_one_complete_run(uri: str, plan) -> None:
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs(
        [client.get_experiment_by_name(plan.experiment).experiment_id],
        f"tags.`{RunTag.KEY}` = '{plan.key}'",
    )
    assert [r.info.run_id for r in runs] == [plan.run_id]  # exactly one, none deleted shown
    run = client.get_run(plan.run_id)
    assert run.info.status == "FINISHED"
    for key in run.data.metrics:
        assert len(client.get_metric_history(plan.run_id, key)) == 1, key
    paths = {a.path for a in client.list_artifacts(plan.run_id, "importance")}
    assert MANIFEST in paths and {contract.result_path(m) for m in METHODS} <= paths


def _manifest_absent(uri: str, run_id: str) -> bool:
    client = mlflow.MlflowClient(uri)
    return MANIFEST not in {a.path for a in client.list_artifacts(run_id, "importance")}


def _finish(plan) -> None:
    for method in plan.config.methods:
        compute_method(plan, method)
    aggregate(plan)
    assert publish(plan).status == VersionStatus.COMPLETE


@pytest.fixture
def own_server(tmp_path, friedman):
    """A server of this test's own on a fixed port, so it can be killed and restarted."""
    folder, port = tmp_path / "server", _free_port()
    process, uri = start_mlflow_server(folder, port=port)
    name = f"fault-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, uri, name)
    state = {"process": process}

    def restart() -> None:
        state["process"], _ = start_mlflow_server(folder, port=port)

    def kill() -> None:
        os.killpg(state["process"].pid, signal.SIGKILL)
        state["process"].wait()

    yield uri, name, kill, restart
    stop_process_group(state["process"])


def test_server_killed_mid_analysis_and_restarted(own_server, monkeypatch):
    uri, name, kill, restart = own_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    plan = plan_analysis(f"{name}@champion", methods=METHODS, experiment="faults")
    assert compute_method(plan, "permutation").status == JobStatus.DONE
    kill()
    start = time.monotonic()
    with pytest.raises(ServiceUnavailableError) as failure:
        compute_method(plan, "probe")
    waited = time.monotonic() - start
    print(f"server down: the step failed after {waited:.1f} s with {failure.value!r:.200}")
    assert is_retryable(failure.value)  # so Airflow retries the task
    # The documented time: /health asked 4 times, 1 + 2 + 4 s apart (connections are refused
    # at once; the margin is for a loaded machine), not MLflow's minutes of retries.
    assert sum(HEALTH_BACKOFF_S) <= waited < sum(HEALTH_BACKOFF_S) + 8

    restart()
    retried = plan_analysis(f"{name}@champion", methods=METHODS, experiment="faults")
    assert retried.run_id == plan.run_id and not retried.complete
    assert compute_method(retried, "permutation").status == JobStatus.REUSED
    for method in ("probe", "weights"):
        compute_method(retried, method)
    aggregate(retried)
    assert _manifest_absent(uri, retried.run_id)  # not complete yet: no manifest
    assert publish(retried).status == VersionStatus.COMPLETE
    _assert_one_complete_run(uri, retried)


def test_unreachable_server_fails_within_the_stated_time():
    port = _free_port()  # nothing listens here
    start = time.monotonic()
    with pytest.raises(ServiceUnavailableError, match=rf"127.0.0.1:{port} cannot be reached") as e:
        connect(f"http://127.0.0.1:{port}")
    waited = time.monotonic() - start
    print(f"unreachable: failed after {waited:.1f} s: {e.value}")
    assert is_retryable(e.value) and "4 times over 7 s" in str(e.value)
    assert sum(HEALTH_BACKOFF_S) <= waited < sum(HEALTH_BACKOFF_S) + 8


@pytest.mark.parametrize("fault", ["503", "drop"])
def test_server_failing_for_a_while_does_not_stop_the_analysis(own_server, fault, monkeypatch):
    uri, name, _, _ = own_server
    proxy = FaultProxy(uri)
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.uri)
        proxy.inject(fault, seconds=3)  # the health check meets it first
        plan = plan_analysis(f"{name}@champion", methods=METHODS, experiment=f"faults-{fault}")
        at_health = proxy.injected
        proxy.inject(fault, seconds=3, spare_health=True)  # now MLflow's own API calls do
        _finish(plan)
        assert at_health > 0 and proxy.injected > at_health
        print(f"{fault}: {proxy.injected} requests failed on purpose; analysis completed")
    finally:
        proxy.close()
    _assert_one_complete_run(uri, plan)


def test_writes_arriving_twice_make_no_duplicates(own_server, monkeypatch):
    uri, name, _, _ = own_server
    proxy = FaultProxy(uri)
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.uri)
        proxy.inject("twice", seconds=600)
        plan = plan_analysis(f"{name}@champion", methods=METHODS, experiment="faults-twice")
        _finish(plan)
        assert proxy.duplicated > 10
    finally:
        proxy.close()
    _assert_one_complete_run(uri, plan)


KILLED_TASK = """
import sys
from importance_tasks.config import AnalysisConfig
from importance_tasks.stage import Job, compute, plan
config = AnalysisConfig(methods=sys.argv[2].split(","))
pinned = plan(sys.argv[1], config, experiment="faults-kill")
print(pinned.run_id, flush=True)
for method in config.methods:
    compute(pinned, Job(method))
"""


def test_task_killed_while_logging_is_finished_in_the_same_run(own_server, monkeypatch):
    uri, name, _, _ = own_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    methods = ["permutation", "shap", *METHODS[1:]]  # shap is slow: killed during it
    task = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_TASK), f"{name}@champion", ",".join(methods)],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        stdout=subprocess.PIPE,
        text=True,
    )
    run_id = task.stdout.readline().strip()
    client = mlflow.MlflowClient(uri)
    deadline = time.monotonic() + 120
    logged = contract.result_path("permutation")
    while not any(a.path == logged for a in client.list_artifacts(run_id, "importance")):
        assert time.monotonic() < deadline and task.poll() is None
        time.sleep(0.2)
    task.send_signal(signal.SIGKILL)  # it has logged permutation, and is computing shap
    task.wait()
    assert client.get_run(run_id).info.status == "RUNNING"  # left behind by the dead task

    retried = plan_analysis(f"{name}@champion", methods=methods, experiment="faults-kill")
    assert retried.run_id == run_id
    assert compute_method(retried, "permutation").status == JobStatus.REUSED
    _finish(retried)
    _assert_one_complete_run(uri, retried)
