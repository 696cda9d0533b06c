"""MLflow with basic auth (`mlflow server --app-name basic-auth`): credentials come from the
Airflow connection or the environment, never appear in task logs, params, tags or artifacts,
and a user who may only read gets an error naming the permission that is missing."""

from __future__ import annotations

import json
import os
import uuid

import mlflow
import pytest
import requests

from importance_tasks.contract import VersionStatus, VersionTag
from importance_tasks.errors import AccessDeniedError
from tests.airflow.conftest import run_airflow
from tests.conftest import register_friedman, start_mlflow_server, stop_process_group
from tests.stage_steps import analyze, plan_analysis

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("credentials")]
ADMIN, ADMIN_PASSWORD = "admin", f"admin-{uuid.uuid4().hex}"
READER, READER_PASSWORD = "reader", f"reader-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auth")
    config = folder / "auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{folder / 'users.db'}\n"
        f"admin_username = {ADMIN}\n"
        f"admin_password = {ADMIN_PASSWORD}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    saved = {
        k: os.environ.get(k) for k in ("MLFLOW_AUTH_CONFIG_PATH", "MLFLOW_FLASK_SERVER_SECRET_KEY")
    }
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = str(config)
    os.environ["MLFLOW_FLASK_SERVER_SECRET_KEY"] = uuid.uuid4().hex
    try:
        process, uri = start_mlflow_server(folder, extra=("--app-name", "basic-auth"))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    created = requests.post(
        f"{uri}/api/2.0/mlflow/users/create",
        json={"username": READER, "password": READER_PASSWORD},
        auth=(ADMIN, ADMIN_PASSWORD),
        timeout=10,
    )
    assert created.ok, created.text
    _cheap_hashes(folder / "users.db", {ADMIN: ADMIN_PASSWORD, READER: READER_PASSWORD})
    yield uri
    stop_process_group(process)


def _cheap_hashes(users_db, passwords: dict[str, str]) -> None:
    """Store the users' passwords with one round of PBKDF2. The server checks the password of
    most requests without its cache (the admin check, the after-request hooks), and at
    werkzeug's default cost those checks were three quarters of the server's CPU in these tests;
    what they test (which credentials reach the server, and what it refuses) is the same."""
    import sqlite3

    from werkzeug.security import generate_password_hash

    with sqlite3.connect(users_db) as conn:
        for user, password in passwords.items():
            conn.execute(
                "update users set password_hash = ? where username = ?",
                (generate_password_hash(password, method="pbkdf2:sha256:1"), user),
            )


def _as(monkeypatch, uri: str, user: str | None, password: str | None) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for key, value in (("MLFLOW_TRACKING_USERNAME", user), ("MLFLOW_TRACKING_PASSWORD", password)):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)


def _everything_logged(uri: str, run_id: str) -> str:
    """Params, tags and the text of every artifact of a run, as one string."""
    client = mlflow.MlflowClient(uri)
    run = client.get_run(run_id)
    texts = [json.dumps(run.data.params), json.dumps(run.data.tags)]
    folder = mlflow.artifacts.download_artifacts(run_id=run_id, tracking_uri=uri)
    for root, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                texts.append(handle.read().decode("utf-8", "replace"))
    return "\n".join(texts)


def test_credentials_from_the_environment_and_a_read_only_user(auth_server, friedman, monkeypatch):
    name = f"auth-{uuid.uuid4().hex[:6]}"
    _as(monkeypatch, auth_server, ADMIN, ADMIN_PASSWORD)
    register_friedman(friedman, auth_server, name)
    # One cheap method: every request to a basic-auth server checks the password's hash.
    plan, _ = analyze(f"{name}@champion", methods=["weights"], experiment="auth")
    logged = _everything_logged(auth_server, plan.run_id)
    assert ADMIN_PASSWORD not in logged

    _as(monkeypatch, auth_server, None, None)
    with pytest.raises(AccessDeniedError, match="refused the credentials"):
        plan_analysis(f"{name}@champion", methods=["probe"], experiment="auth")
    _as(monkeypatch, auth_server, READER, READER_PASSWORD)
    with pytest.raises(AccessDeniedError) as denied:
        plan_analysis(f"{name}@champion", methods=["probe"], experiment="auth")
    message = str(denied.value)
    assert "'reader' lacks the EDIT (on the experiment) permission" in message
    assert "experiment 'auth'" in message and READER_PASSWORD not in message


def test_credentials_from_the_airflow_connection_stay_out_of_task_logs(
    auth_server, friedman, airflow_home, monkeypatch
):
    name = f"auth-af-{uuid.uuid4().hex[:6]}"
    _as(monkeypatch, auth_server, ADMIN, ADMIN_PASSWORD)
    register_friedman(friedman, auth_server, name)
    host, port = auth_server.removeprefix("http://").split(":")
    env = {k: v for k, v in airflow_home.items() if not k.startswith("MLFLOW_TRACKING")}
    env["AIRFLOW_CONN_MLFLOW_DEFAULT"] = json.dumps(
        {
            "conn_type": "http",
            "host": host,
            "port": int(port),
            "schema": "http",
            "login": ADMIN,
            "password": ADMIN_PASSWORD,
        }
    )
    conf = {
        "model_name": name,
        "model_alias": "champion",
        "methods": ["weights"],
        "tag_version": True,  # other settings than the stage's: the tags only when asked
    }
    result = run_airflow(env, "dags", "test", "feature_importance", "-c", json.dumps(conf))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    output = result.stdout + result.stderr
    assert "analysis.compute" in output  # the task logs are in this output (dags test)
    assert ADMIN_PASSWORD not in output
    logs = [
        os.path.join(root, f)
        for root, _, files in os.walk(os.path.join(env["AIRFLOW_HOME"], "logs"))
        for f in files
    ]
    for path in logs:  # and in any log files written
        with open(path, errors="replace") as handle:
            assert ADMIN_PASSWORD not in handle.read(), path
    client = mlflow.MlflowClient(auth_server)
    tags = client.get_model_version(name, "1").tags
    assert tags[VersionTag.STATUS] == VersionStatus.COMPLETE
    assert ADMIN_PASSWORD not in _everything_logged(auth_server, tags[VersionTag.RUN_ID])
