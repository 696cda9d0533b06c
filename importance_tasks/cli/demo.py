"""``make demo``: the whole stage on an embedded default, nothing to start by hand.

Trains a Keras model on scikit-learn's diabetes data, registers it with an alias in a local
MLflow (SQLite backend store, artifacts under ``.demo/``), runs the real ``feature_importance``
DAG on an embedded SQLite Airflow (``dag.test()``), and prints the ranking read back from MLflow.

``python -m importance_tasks.cli.demo ui`` (``make ui``) starts ``mlflow server`` and
``airflow standalone`` on the same state, to click through both UIs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from importance_tasks.cli.commands import format_ranking, write_json_atomically
from importance_tasks.cli.demo_models import diabetes_frames, train_mlp
from importance_tasks.cli.output_capture import import_keras_quietly, output_to
from importance_tasks.contract import AUDIT_EXPERIMENT, DEFAULT_EXPERIMENT
from importance_tasks.mlflow_io.analysis_run import AnalysisRun
from importance_tasks.mlflow_io.client import connect
from importance_tasks.mlflow_io.logged_models import versions_by_importance
from importance_tasks.mlflow_io.training import prepare_local_store, register_keras_model
from importance_tasks.mlflow_io.version_tags import VersionTags
from importance_tasks.mlflow_io.webhooks import register_webhook
from importance_tasks.stage import read_logged_analysis

# The demo's state: the Airflow home, the MLflow store, logs and the DAG folder, into which the
# shipped DAGs are installed as a deployment gets them (``importance-tasks dags install``).
DEMO_DIR = Path(os.environ.get("IMPORTANCE_DEMO_DIR", ".demo")).resolve()
DAGS_DIR = DEMO_DIR / "dags"
MODEL_NAME = "diabetes_mlp"
ALIAS = "champion"
MLFLOW_UI_PORT = 5000
AIRFLOW_UI_PORT = 8080


DEMO_SETTINGS = {"n_repeats": 10, "sanity_check": True}


def _environment(tracking_uri: str) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(DEMO_DIR / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # The demo deployment's configuration of record (the Airflow Variable importance_config):
        # its analyses, triggered or started by the registry, set the version's tags.
        "AIRFLOW_VAR_IMPORTANCE_CONFIG": json.dumps(DEMO_SETTINGS),
    }


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def prepare_mlflow(folder: Path) -> str:
    """A SQLite-backed MLflow under ``folder`` whose experiments keep artifacts there too."""

    return prepare_local_store(
        folder, experiments=("Default", "training", DEFAULT_EXPERIMENT, AUDIT_EXPERIMENT)
    )


def install_demo_dags() -> None:
    """The shipped DAGs in the demo's DAG folder (the demo's own: overwritten if changed)."""
    from importance_tasks.airflow.dag_files import install_dags

    install_dags(DAGS_DIR, force=True)


def run_demo() -> int:
    uri = f"sqlite:///{DEMO_DIR / 'mlflow.db'}"
    os.environ.update(_environment(uri))
    install_demo_dags()
    migrate = subprocess.run(
        [_bin("airflow"), "db", "migrate"], capture_output=True, text=True, check=False
    )
    if migrate.returncode != 0:
        print(migrate.stderr[-3000:], file=sys.stderr)
        return migrate.returncode

    from importance_tasks.airflow.local import test_dag

    import_keras_quietly()

    logs = DEMO_DIR / "logs"
    print(f"logs of Airflow, MLflow and TensorFlow: {logs}/")
    prepare_mlflow(DEMO_DIR)
    train, test = diabetes_frames(seed=0)
    features = [c for c in train.columns if c != "target"]
    print(f"training a Keras MLP on diabetes ({len(train)} rows, {len(features)} features)")
    with output_to(logs / "training.log"):
        model = train_mlp(
            train[features].to_numpy(), train["target"].to_numpy(), epochs=40, learning_rate=0.001
        )
        version = register_keras_model(
            model, name=MODEL_NAME, eval_frame=test, target="target", tracking_uri=uri, alias=ALIAS
        )
    print(f"registered {MODEL_NAME} version {version} as @{ALIAS} in {uri}")
    print("running the feature_importance DAG (embedded Airflow, dag.test()) ...")
    start = time.perf_counter()
    conf = {"model_name": MODEL_NAME, "model_alias": ALIAS}
    with output_to(logs / "feature_importance.log"):
        state, dag_run_id = test_dag(DAGS_DIR, "feature_importance", conf)
    seconds = time.perf_counter() - start
    if state != "success":
        print(f"the DAG run ended {state}; see {logs / 'feature_importance.log'}", file=sys.stderr)
        return 1
    tags = VersionTags.read(connect(uri), MODEL_NAME, version)
    run_id = str(tags.run_id)
    analysis = read_logged_analysis(uri, run_id)
    print(f"DAG run {dag_run_id}: {state} in {seconds:.1f} s\n")
    print(format_ranking(analysis))
    write_json_atomically(
        DEMO_DIR / "importance.json",
        {**analysis.as_dict(), "run_id": run_id, "model_version": version},
    )
    print(f"\nMLflow run {run_id}; model version tags: {json.dumps(tags.as_dict())}")
    print(f"report: {AnalysisRun(connect(uri), run_id).report_uri()}")
    top = analysis.consensus.features[int(analysis.consensus.rank.argmin())]
    ordered = versions_by_importance(connect(uri), MODEL_NAME, top)
    print(
        f"versions by permutation importance of {top} (search_logged_models): "
        + ", ".join(f"v{v} {value:.3g}" for v, value in ordered)
    )
    print(f"wrote {DEMO_DIR / 'importance.json'}")
    print("to click through the MLflow and Airflow UIs on this state: make ui")
    return 0


def _webhook_secret() -> str:
    """The demo's webhook secret, made once and kept under ``.demo/``."""
    import secrets

    path = DEMO_DIR / "webhook_secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _webhook_encryption_key() -> str:
    """The key MLflow encrypts stored webhook secrets with, made once and kept under
    ``.demo/``: without it each server start draws a new key, and the next one cannot read
    the webhook the first stored (``GET /webhooks`` answered 500, ``make ui`` failed)."""
    import base64
    import sqlite3

    path = DEMO_DIR / "webhook_encryption_key"
    if not path.exists():
        database = DEMO_DIR / "mlflow.db"
        if database.exists():  # a state made before the key was kept: its webhook is unreadable
            with contextlib.closing(sqlite3.connect(database)) as connection, connection:
                tables = {r[0] for r in connection.execute("select name from sqlite_master")}
                for table in ("webhook_events", "webhooks"):
                    if table in tables:
                        connection.execute(f"delete from {table}")
        path.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())  # a Fernet key
    return path.read_text().strip()


def _register_webhook_when_up(tracking_uri: str, secret: str, env: dict[str, str]) -> str:
    """Wait for both servers, unpause the DAGs the registry drives (``feature_importance`` and
    ``promote_model``, once parsed), then point MLflow's registry webhook at Airflow's
    receiver."""
    import requests

    receiver = f"http://127.0.0.1:{AIRFLOW_UI_PORT}/importance/mlflow"
    for url in (
        f"{tracking_uri}/health",
        f"http://127.0.0.1:{AIRFLOW_UI_PORT}/api/v2/monitor/health",
    ):
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=2).ok:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within 180 s")
            time.sleep(1)
    for dag_id in ("feature_importance", "promote_model"):
        deadline = time.monotonic() + 180
        while subprocess.run(
            [_bin("airflow"), "dags", "unpause", dag_id], env=env, capture_output=True, check=False
        ).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the DAG {dag_id} was not parsed within 180 s")
            time.sleep(2)
    register_webhook(connect(tracking_uri), url=receiver, secret=secret)
    return receiver


def run_ui() -> int:
    """Start ``mlflow server`` and ``airflow standalone`` on the demo's state until Ctrl-C, with
    MLflow's registry webhook pointing at the receiver in Airflow: registering a version (from
    a notebook, a CI job, anywhere) starts its analysis."""
    http_uri = f"http://127.0.0.1:{MLFLOW_UI_PORT}"
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    install_demo_dags()
    secret = _webhook_secret()
    env = {
        **os.environ,
        **_environment(http_uri),
        "AIRFLOW__API__PORT": str(AIRFLOW_UI_PORT),
        # The registry drives the stage: MLflow may deliver webhooks to this loopback receiver
        # over plain http (on this machine only), and both ends share the secret (Airflow reads
        # it as the Variable importance_mlflow_webhook_secret).
        "AIRFLOW_VAR_IMPORTANCE_MLFLOW_WEBHOOK_SECRET": secret,
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_CACHE_TTL": "5",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": _webhook_encryption_key(),
        # airflow standalone starts its components as `airflow ...` found on PATH
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    prepare_mlflow(DEMO_DIR)
    commands = [
        [_bin("mlflow"), "server", "--host", "127.0.0.1", "--port", str(MLFLOW_UI_PORT),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{DEMO_DIR / 'mlflow.db'}",
         "--artifacts-destination", str(DEMO_DIR / "artifacts")],
        [_bin("airflow"), "standalone"],
    ]  # fmt: skip
    processes = [subprocess.Popen(command, env=env, start_new_session=True) for command in commands]
    # `kill` of this launcher stops both too: SIGTERM becomes KeyboardInterrupt, and each child
    # is stopped as a process group (airflow standalone ignores SIGTERM to its parent alone).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    passwords = DEMO_DIR / "airflow" / "simple_auth_manager_passwords.json.generated"
    print(
        f"MLflow:  {http_uri}\nAirflow: http://127.0.0.1:{AIRFLOW_UI_PORT} (user admin, password "
        f"in {passwords})\nTrigger 'train_example' or 'feature_importance'; Ctrl-C stops both."
    )
    try:
        receiver = _register_webhook_when_up(http_uri, secret, env)
        print(f"MLflow registry webhook -> {receiver}: registering a version starts its analysis")
        while all(p.poll() is None for p in processes):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            stop_process_group(process)
    return 0


def stop_process_group(process: subprocess.Popen[bytes], *, grace_s: float = 10.0) -> None:
    """SIGTERM a process's whole group, then SIGKILL whatever is left after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            continue
        with contextlib.suppress(ProcessLookupError):  # children that ignored SIGTERM
            os.killpg(process.pid, signal.SIGKILL)
        return


if __name__ == "__main__":
    sys.exit(run_ui() if sys.argv[1:] == ["ui"] else run_demo())
