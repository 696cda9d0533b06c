"""The production topology of docker/compose.yaml, run natively: PostgreSQL as Airflow's
metadata database and MLflow's backend store, CeleryExecutor with Redis as broker, two Celery
worker processes, and an MLflow server with served artifacts. The analysis DAG runs through the
scheduler and the workers, and MLflow holds the contract."""

from __future__ import annotations

import json
import re
import uuid

import mlflow
import pytest
import yaml

from importance_tasks.contract import MANIFEST, RunTag, VersionStatus, VersionTag, metric_key
from tests.airflow.conftest import (
    ROOT,
    airflow_components,
    max_overlap,
    run_airflow,
    scheduler_env,
    task_rows,
    wait_for_run,
)
from tests.conftest import (
    _free_port,
    register_friedman,
    require_service,
    start_mlflow_server,
    stop_process_group,
)

DOCKER = ROOT / "docker"
WORKERS = ("worker-a", "worker-b")
METHODS = ["permutation", "probe", "weights", "integrated_gradients"]
# The long-lived components, as compose service -> the airflow command both start.
COMPONENTS = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_file_matches_the_native_topology():
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "mlflow", "airflow-init", *COMPONENTS}
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://airflow-apiserver:8080/execution/"
    )
    connection = json.loads(env["AIRFLOW_CONN_MLFLOW_DEFAULT"])
    assert (connection["host"], connection["port"]) == ("mlflow", 5000)
    for name, command in COMPONENTS.items():
        service = services[name]
        given = service["command"]
        given = given.split() if isinstance(given, str) else given
        assert given[: len(command)] == command, name
        assert service["image"] == "importance-tasks:latest"
        assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale works
    broker = worker["environment"]["AIRFLOW__CELERY__BROKER_URL"]
    assert broker == env["AIRFLOW__CELERY__BROKER_URL"]
    init = " ".join(services["airflow-init"]["command"])
    assert "airflow db migrate" in init
    server = services["mlflow"]["command"]
    assert server[:2] == ["mlflow", "server"]
    options = dict(o.split("=", 1) for o in server[2:] if "=" in o)
    assert options["--backend-store-uri"].startswith("postgresql+psycopg2://")
    assert "--serve-artifacts" in server
    assert options["--artifacts-destination"] in [
        v.split(":")[1] for v in services["mlflow"]["volumes"]
    ]
    assert "mlflow:5000" in options["--allowed-hosts"].split(",")


def test_compose_variables_come_from_the_example_env_file():
    text = (DOCKER / "compose.yaml").read_text()
    example = {
        line.split("=", 1)[0]
        for line in (DOCKER / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    used = set(re.findall(r"\$\{([A-Z_]+)\}", text))  # those without a default
    assert used <= example, used - example
    assert _compose()["x-airflow-common"]["env_file"] == ".env"


def test_dockerfile_uses_the_locked_airflow_and_installs_the_lock():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    base = re.search(r"^FROM apache/airflow:(\S+)-python(\S+)$", dockerfile, re.M)
    assert base is not None
    locked = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.lock").read_text(), re.M)
    assert locked is not None and base.group(1) == locked.group(1)
    assert base.group(2) == "3.11"
    assert "--requirement requirements.lock" in dockerfile
    for folder in ("importance_tasks", "dags"):
        assert f"COPY --chown=airflow:0 {folder} " in dockerfile
    assert "plugins" not in dockerfile  # the plugin comes with the package (its entry point)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "docker/.env" in ignored


@pytest.fixture
def celery_stack(tmp_path, postgres_databases, friedman):
    require_service("Redis", 6379)
    mlflow_process, tracking_uri = start_mlflow_server(
        tmp_path / "mlflow", backend_store_uri=postgres_databases("psycopg2")
    )
    database = postgres_databases()
    port = _free_port()
    queue = f"importance-{uuid.uuid4().hex[:8]}"  # this test's own queue on the shared Redis
    env = scheduler_env(
        tmp_path,
        database=database,
        tracking_uri=tracking_uri,
        port=port,
        PYTHONPATH=str(ROOT),
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__CELERY__BROKER_URL="redis://127.0.0.1:6379/0",
        AIRFLOW__CELERY__RESULT_BACKEND="db+" + database,
        AIRFLOW__OPERATORS__DEFAULT_QUEUE=queue,
        AIRFLOW__CORE__HOSTNAME_CALLABLE="tests.airflow.worker_identity.hostname",
        AIRFLOW__CORE__PARALLELISM="8",
    )
    assert run_airflow(env, "dags", "unpause", "feature_importance").returncode == 0
    commands: list[list[str]] = [
        ["api-server", "--port", str(port)],
        ["scheduler"],
        ["dag-processor"],
        ["triggerer"],
    ]
    envs = [env] * len(commands)
    for name in WORKERS:
        commands.append(
            [
                *COMPONENTS["airflow-worker"],
                "--concurrency", "2",
                "--queues", queue,
                "--celery-hostname", f"{name}@%h",
                "--skip-serve-logs",
            ]
        )  # fmt: skip
        envs.append({**env, "IMPORTANCE_TEST_WORKER": name})
    try:
        with airflow_components(env, commands, tmp_path, envs=envs) as processes:
            yield env, database, tracking_uri, friedman, processes
    finally:
        stop_process_group(mlflow_process)


@pytest.mark.integration
@pytest.mark.services
def test_analysis_runs_on_celery_workers_with_postgresql_and_redis(celery_stack):
    env, database, tracking_uri, friedman, processes = celery_stack
    name = f"celery-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, tracking_uri, name)
    conf = {
        "model_name": name, "model_alias": "champion", "methods": METHODS, "seed": 0,
        "compute_slots": len(METHODS),  # one task per method, to spread over both workers
        "tag_version": True,  # other settings than the stage's: the tags only when asked
    }  # fmt: skip
    triggered = run_airflow(env, "dags", "trigger", "feature_importance", "-c", json.dumps(conf))
    assert triggered.returncode == 0, triggered.stderr[-2000:]
    run = wait_for_run(
        database, "feature_importance", run_type="manual", timeout=480, components=processes
    )
    assert run["state"] == "success"

    rows = task_rows(database, "feature_importance", run["run_id"], "analysis.compute")
    assert [r["state"] for r in rows] == ["success"] * len(METHODS)
    hosts = {r["hostname"] for r in rows}
    for r in rows:
        seconds = (r["end_date"] - r["start_date"]).total_seconds()
        print(f"compute[{r['map_index']}] on {r['hostname']} pid {r['pid']}: +{seconds:.1f} s")
    print(f"at most {max_overlap(rows)} method tasks ran at once, on {sorted(hosts)}")
    assert hosts == set(WORKERS), "the method tasks did not spread over both Celery workers"

    client = mlflow.MlflowClient(tracking_uri)
    tags = client.get_model_version(name, "1").tags
    assert tags[VersionTag.STATUS] == VersionStatus.COMPLETE
    logged = client.get_run(tags[VersionTag.RUN_ID])
    assert logged.info.status == "FINISHED"
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id, "importance")}
    assert MANIFEST in artifacts  # written last, so the analysis is complete
    key = logged.data.tags[RunTag.KEY]
    runs = client.search_runs([logged.info.experiment_id], f"tags.`importance.key` = '{key}'")
    assert len(runs) == 1
    for method in METHODS:
        assert metric_key("importance", method, "x0") in logged.data.metrics
