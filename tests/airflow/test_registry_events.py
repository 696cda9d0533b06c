"""The registry drives the pipeline, with real parts: an MLflow server (SQL store) whose webhooks
may deliver to loopback, and Airflow's API server (with our plugin), scheduler (LocalExecutor,
PostgreSQL), DAG processor and triggerer.

- Registering a version in MLflow delivers a signed webhook; the receiver turns it into an
  Asset event and the scheduler runs ``feature_importance`` on that version with no one
  touching Airflow; its analysis event starts ``promote_model``, which asks a person (no sanity
  check was run) and promotes on approval.
- A bad signature, a replay and an event we do not act on create nothing; MLflow's test
  delivery is answered.
- With the receiver down MLflow's delivery fails (after its retries) and the version simply
  stays unanalysed until the registry audit finds it.
- The promotion gate's other outcomes: promoted at once, and kept on rejection.
"""

from __future__ import annotations

import json
import time
import uuid

import mlflow
import pytest
import requests

from importance_tasks.contract import VersionStatus, VersionTag
from importance_tasks.mlflow_io.audit import needs_analysis
from importance_tasks.mlflow_io.webhooks import register_webhook
from importance_tasks.webhook_events import sign
from tests.airflow.conftest import airflow_components, metadata_rows, run_airflow, scheduler_env
from tests.conftest import (
    ADMIN_DSN,
    _free_port,
    register_friedman,
    require_service,
    start_mlflow_server,
    stop_process_group,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.services,
    pytest.mark.xdist_group("registry_events"),
]

SECRET = "webhook-secret-for-tests"
# MLflow refuses to deliver to private addresses and plain http unless its server allows them:
# in this test only. The short cache makes a webhook registered now deliver at once.
WEBHOOK_SERVER_ENV = {
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    "MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES": "2",
}


@pytest.fixture(scope="module")
def metadata_database():
    """A PostgreSQL database for the module's Airflow, dropped afterwards."""
    import psycopg

    require_service("PostgreSQL", 5432)
    name = f"importance_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def stack(tmp_path_factory, metadata_database):
    folder = tmp_path_factory.mktemp("registry-events")
    process, mlflow_uri = start_mlflow_server(folder / "mlflow", env=WEBHOOK_SERVER_ENV)
    port = _free_port()
    database = metadata_database
    env = scheduler_env(
        folder / "airflow",
        database=database,
        tracking_uri=mlflow_uri,
        port=port,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW_VAR_IMPORTANCE_MLFLOW_WEBHOOK_SECRET=SECRET,
    )
    for dag_id in ("feature_importance", "promote_model"):
        assert run_airflow(env, "dags", "unpause", dag_id).returncode == 0
    commands = (
        ["api-server", "--port", str(port)],
        ["scheduler"],
        ["dag-processor"],
        ["triggerer"],
    )
    airflow = f"http://127.0.0.1:{port}"
    try:
        with airflow_components(env, commands, folder) as processes:
            _wait_for(lambda: requests.get(f"{airflow}/api/v2/monitor/health", timeout=2).ok, 120)
            yield {
                "mlflow": mlflow_uri,
                "airflow": airflow,
                "database": database,
                "processes": processes,
                "mlflow_log": folder / "mlflow" / "server.log",
                "logs": folder,
            }
    finally:
        stop_process_group(process)


def _wait_for(check, timeout: float, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except requests.RequestException:
            found = None
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def _api(stack, method: str, path: str, **kwargs):
    token = requests.get(f"{stack['airflow']}/auth/token", timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    response = requests.request(
        method, f"{stack['airflow']}/api/v2{path}", headers=headers, timeout=30, **kwargs
    )
    assert response.ok, response.text
    return response.json()


def _asset_events(stack, name: str) -> list[dict]:
    """The events of the Asset ``name`` whose extra names model ``model``."""
    asset = _api(stack, "GET", "/assets", params={"name_pattern": name})["assets"][0]
    return _api(stack, "GET", "/assets/events", params={"asset_id": asset["id"], "limit": 100})[
        "asset_events"
    ]


def _events_for(stack, model: str) -> list[dict]:
    return [
        e
        for e in _asset_events(stack, "mlflow_registered_model_versions")
        if (e.get("extra") or {}).get("model_name") == model
    ]


def _dag_runs(stack, dag_id: str) -> list[dict]:
    return metadata_rows(
        stack["database"],
        "select run_id, state, run_type from dag_run where dag_id = :d order by id",
        d=dag_id,
    )


def _task_state(stack, dag_id: str, run_id: str, task_id: str) -> str | None:
    rows = metadata_rows(
        stack["database"],
        "select state from task_instance where dag_id = :d and run_id = :r and task_id = :t",
        d=dag_id,
        r=run_id,
        t=task_id,
    )
    return rows[0]["state"] if rows else None


def _finished_run(stack, dag_id: str, after: int, timeout: float) -> dict:
    """The first run of ``dag_id`` beyond the first ``after`` runs, once finished."""

    def finished():
        runs = _dag_runs(stack, dag_id)[after:]
        dead = [p.args[1] for p in stack["processes"] if p.poll() is not None]
        assert not dead, f"Airflow components exited: {dead}"
        return runs[0] if runs and runs[0]["state"] in ("success", "failed") else None

    run = _wait_for(finished, timeout, f"a finished {dag_id} run")
    assert run["state"] == "success", _states(stack, dag_id, run["run_id"])
    return run


def _states(stack, dag_id: str, run_id: str) -> dict[str, str]:
    rows = metadata_rows(
        stack["database"],
        "select task_id, state from task_instance where dag_id = :d and run_id = :r",
        d=dag_id,
        r=run_id,
    )
    return {r["task_id"]: r["state"] for r in rows}


def _answer_gate(stack, run_id: str, choice: str) -> None:
    try:
        _wait_for(
            lambda: (
                _task_state(stack, "promote_model", run_id, "ask") in ("deferred", "awaiting_input")
            ),
            120,
            "the approval request",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; tasks: {_states(stack, 'promote_model', run_id)}") from None
    # A person answers after seconds. Answered before the scheduler has taken in the executor
    # event of the pause, Airflow 3.3's scheduler meets that event after the answer has queued
    # the task again, and marks it failed ("finished with state success, but ... queued"): seen
    # here on a loaded machine. So the answer waits for the scheduler's own record of the pause.
    scheduler_log = stack["logs"] / "1-scheduler.log"
    paused = f"task_id=ask, run_id={run_id}"
    _wait_for(
        lambda: any(
            paused in line and "state=awaiting_input" in line
            for line in scheduler_log.read_text(errors="replace").splitlines()
        ),
        120,
        "the scheduler's record of the pause",
    )
    _api(
        stack,
        "PATCH",
        f"/dags/promote_model/dagRuns/{run_id}/taskInstances/ask/-1/hitlDetails",
        json={"chosen_options": [choice], "params_input": {}},
    )


def _post(stack, body: bytes, *, delivery_id: str, secret: str = SECRET, age: float = 0):
    timestamp = str(int(time.time() - age))
    headers = {
        "Content-Type": "application/json",
        "X-MLflow-Delivery-Id": delivery_id,
        "X-MLflow-Timestamp": timestamp,
        "X-MLflow-Signature": sign(secret, delivery_id, timestamp, body),
    }
    return requests.post(
        f"{stack['airflow']}/importance/mlflow", data=body, headers=headers, timeout=30
    )


def _body(event: str, data: dict) -> bytes:
    entity, action = event.rsplit(".", 1)
    return json.dumps({"entity": entity, "action": action, "data": data}).encode()


def test_the_webhook_receiver(stack, friedman):
    """One Airflow stack for every receiver case (each stack is four Airflow processes)."""
    _registering_a_version_runs_the_analysis_and_the_gate_asks(stack, friedman)
    _bad_signatures_replays_and_other_events_create_nothing(stack)
    _with_the_receiver_down_the_version_waits_for_the_audit(stack, friedman)


def _registering_a_version_runs_the_analysis_and_the_gate_asks(stack, friedman):
    client = mlflow.MlflowClient(stack["mlflow"])
    url = f"{stack['airflow']}/importance/mlflow"
    webhook_id = register_webhook(client, url=url, secret=SECRET)
    try:
        tested = client.test_webhook(webhook_id)
        assert tested.success and "test delivery received" in tested.response_body
        name = f"hooked-{uuid.uuid4().hex[:6]}"
        analyses = len(_dag_runs(stack, "feature_importance"))
        gates = len(_dag_runs(stack, "promote_model"))
        registered = time.monotonic()
        register_friedman(friedman, stack["mlflow"], name, alias=None)  # nobody touches Airflow
        events = _wait_for(lambda: _events_for(stack, name), 60, "the webhook's Asset event")
    finally:  # later tests register versions without starting analyses
        client.delete_webhook(webhook_id)
    assert events[0]["extra"]["model_version"] == "1"
    assert events[0]["extra"]["source"] == "mlflow webhook model_version.created"
    analysed = _finished_run(stack, "feature_importance", analyses, 600)
    assert analysed["state"] == "success" and analysed["run_type"] == "asset_triggered"
    tags = client.get_model_version(name, "1").tags
    assert tags[VersionTag.STATUS] == VersionStatus.COMPLETE
    print(f"registration to complete analysis: {time.monotonic() - registered:.1f} s")
    # The analysis event starts the gate; no sanity check ran, so it asks; approved: promoted.
    gate = _wait_for(
        lambda: (_dag_runs(stack, "promote_model")[gates:] or [None])[0], 120, "the gate run"
    )
    _answer_gate(stack, gate["run_id"], "Promote")
    assert _finished_run(stack, "promote_model", gates, 120)["state"] == "success"
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    tags = client.get_model_version(name, "1").tags
    assert tags[VersionTag.PROMOTION] == "promoted to champion (approved)"
    assert tags[VersionTag.PROMOTION_REASONS] == "no sanity check was run"


def _bad_signatures_replays_and_other_events_create_nothing(stack):
    name = f"forged-{uuid.uuid4().hex[:6]}"
    body = _body("model_version.created", {"name": name, "version": "1"})
    forged = _post(stack, body, delivery_id="forged", secret="not the secret")
    assert forged.status_code == 401 and "does not match" in forged.json()["error"]
    stale = _post(stack, body, delivery_id="stale", age=900)
    assert stale.status_code == 401
    assert _events_for(stack, name) == []
    first = _post(stack, body, delivery_id="once")
    assert first.status_code == 201, first.text
    again = _post(stack, body, delivery_id="once")  # MLflow's retry, or a replay in the window
    assert again.status_code == 200 and again.json()["status"] == "duplicate delivery"
    assert len(_events_for(stack, name)) == 1
    tag = _body("model_version_tag.set", {"name": name, "version": "1", "key": "k", "value": "v"})
    ignored = _post(stack, tag, delivery_id="tag")
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    assert len(_events_for(stack, name)) == 1


def _with_the_receiver_down_the_version_waits_for_the_audit(stack, friedman):
    client = mlflow.MlflowClient(stack["mlflow"])
    closed = f"http://127.0.0.1:{_free_port()}/importance/mlflow"  # nothing listens there
    webhook_id = register_webhook(client, url=closed, secret=SECRET, name="receiver-down")
    name = f"unheard-{uuid.uuid4().hex[:6]}"
    try:
        register_friedman(friedman, stack["mlflow"], name, alias=None)  # not held up by it
        _wait_for(
            lambda: closed in stack["mlflow_log"].read_text(errors="replace"),
            60,
            "MLflow's failed delivery in its log",
        )
    finally:
        client.delete_webhook(webhook_id)
    # The delivery is lost after MLflow's retries; what we promise is the registry audit: a
    # version without a complete analysis is found.
    assert needs_analysis(client, name, "1", "any-config")


def _analysis_event(stack, name: str, version: str, **extra) -> None:
    asset = _api(stack, "GET", "/assets", params={"name_pattern": "feature_importance_results"})
    body = {
        "model_name": name, "model_version": version, "status": "complete", "run_id": None,
        "sanity": {"permutation": True}, "ndcg": 0.98, "drifted": False, **extra,
    }  # fmt: skip
    _api(
        stack, "POST", "/assets/events", json={"asset_id": asset["assets"][0]["id"], "extra": body}
    )


def test_the_gate_promotes_at_once_or_keeps_on_rejection(stack, friedman):
    client = mlflow.MlflowClient(stack["mlflow"])
    name = f"gated-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, stack["mlflow"], name, alias=None)
    register_friedman(friedman, stack["mlflow"], name, alias=None)

    gates = len(_dag_runs(stack, "promote_model"))
    _analysis_event(stack, name, "1")  # sane and not drifted
    assert _finished_run(stack, "promote_model", gates, 180)["state"] == "success"
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    assert client.get_model_version(name, "1").tags[VersionTag.PROMOTION] == (
        "promoted to champion (automatic)"
    )

    gates = len(_dag_runs(stack, "promote_model"))
    _analysis_event(stack, name, "2", ndcg=0.4, drifted=True, drift="ndcg@5=0.400 drifted")
    gate = _wait_for(
        lambda: (_dag_runs(stack, "promote_model")[gates:] or [None])[0], 120, "the gate run"
    )
    _answer_gate(stack, gate["run_id"], "Keep")
    assert _finished_run(stack, "promote_model", gates, 120)["state"] == "success"
    assert client.get_model_version_by_alias(name, "champion").version == "1"  # not moved
    tags = client.get_model_version(name, "2").tags
    assert tags[VersionTag.PROMOTION] == "kept: not approved"
    assert "ndcg@5=0.400 drifted" in tags[VersionTag.PROMOTION_REASONS]
