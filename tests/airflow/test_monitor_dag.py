"""The shipped monitor DAG through `airflow dags test`: windows of unlabelled data, one from the
evaluation data's distribution (no alarm) and one with a driver held constant (drift: tags,
metrics stepped by day, the window's JSON, the report, the drift Asset event), while the
version's analysis tags stay as they were."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from sklearn.datasets import make_friedman1

from importance_tasks.contract import Monitor, MonitorStatus, metric_key
from importance_tasks.mlflow_io.monitor_run import day_number
from tests.airflow.conftest import last_run_tasks, metadata_rows, run_airflow, sqlite_metadata
from tests.conftest import FRIEDMAN_FEATURES, register_friedman

pytestmark = pytest.mark.integration


def _window(path, seed: int, *, constant: int | None = None) -> None:
    X, _ = make_friedman1(n_samples=3000, n_features=10, random_state=seed)
    if constant is not None:
        X[:, constant] = 0.5
    pd.DataFrame(X, columns=list(FRIEDMAN_FEATURES)).to_parquet(path)  # no target column


def _states(env, dag_id: str) -> dict[str, str]:
    return {str(t["task_id"]): str(t["state"]) for t in last_run_tasks(env, dag_id)}


def _drift_events(env) -> list[dict]:
    rows = metadata_rows(
        sqlite_metadata(env),
        "select e.extra from asset_event e join asset a on e.asset_id = a.id "
        "where a.name = 'feature_importance_drift'",
    )
    return [json.loads(r["extra"]) if isinstance(r["extra"], str) else r["extra"] for r in rows]


def test_the_monitor_watches_windows_and_alarms_only_on_drift(
    airflow_home, friedman, mlflow_server, tmp_path
):
    name = f"monitor-{uuid.uuid4().hex[:6]}"
    version = register_friedman(friedman, mlflow_server, name)
    client = mlflow.MlflowClient(mlflow_server)
    before = client.get_model_version(name, version).tags
    _window(tmp_path / "window-2026-01-05.parquet", seed=5)
    _window(tmp_path / "window-2026-01-06.parquet", seed=6, constant=0)
    conf = json.dumps({"model_name": name, "data_uri": str(tmp_path / "window-{ds}.parquet")})

    quiet = run_airflow(
        airflow_home, "dags", "test", "importance_monitor", "2026-01-05", "-c", conf
    )
    assert quiet.returncode == 0, (quiet.stdout + quiet.stderr)[-4000:]
    assert _states(airflow_home, "importance_monitor") == {"watch": "success", "alarm": "skipped"}
    tags = client.get_model_version(name, version).tags
    assert tags[Monitor.STATUS] == MonitorStatus.OK and tags[Monitor.DRIFTED] == ""
    assert tags[Monitor.WINDOW] == "2026-01-05"

    drift = run_airflow(
        airflow_home, "dags", "test", "importance_monitor", "2026-01-06", "-c", conf
    )
    assert drift.returncode == 0, (drift.stdout + drift.stderr)[-4000:]
    assert _states(airflow_home, "importance_monitor") == {"watch": "success", "alarm": "success"}
    tags = client.get_model_version(name, version).tags
    assert tags[Monitor.STATUS] == MonitorStatus.DRIFT and tags[Monitor.WINDOW] == "2026-01-06"
    assert "x0" in tags[Monitor.DRIFTED].split(",")
    # The analysis of record's tags are untouched: only importance.monitor.* was added.
    assert {k: v for k, v in tags.items() if not k.startswith("importance.monitor.")} == before
    events = [e for e in _drift_events(airflow_home) if e.get("model_name") == name]
    assert len(events) == 1 and events[0]["window"] == "2026-01-06"
    assert "x0" in events[0]["drifted"]

    run_id = tags[Monitor.RUN_ID]
    history = client.get_metric_history(run_id, metric_key(Monitor.METRIC, "x0"))
    assert sorted(m.step for m in history) == [day_number("2026-01-05"), day_number("2026-01-06")]
    artifacts = {a.path for a in client.list_artifacts(run_id, Monitor.DIR)}
    assert {Monitor.BASELINE, Monitor.REPORT, Monitor.window_path("2026-01-06")} <= artifacts
    path = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path=Monitor.window_path("2026-01-06"), dst_path=str(tmp_path),
        tracking_uri=mlflow_server,
    )  # fmt: skip
    record = json.loads(Path(path).read_text())
    assert record["modes"] == ["output"]
    assert {"window", "importance", "interval", "drifted", "data_drift", "ndcg"} <= set(record)
    assert record["data_drift"] == ["x0"]
    assert next(d["feature"] for d in record["drifted"]) == "x0"
