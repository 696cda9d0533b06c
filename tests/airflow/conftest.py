"""An embedded Airflow (SQLite metadata database) for DAG tests, run through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    env.update(extra)
    return env


def run_airflow(
    env: dict[str, str], *args: str, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory, mlflow_server) -> dict[str, str]:
    """AIRFLOW_HOME with a migrated SQLite database; MLflow is the test server."""
    home = tmp_path_factory.mktemp("airflow")
    env = airflow_env(home, MLFLOW_TRACKING_URI=mlflow_server)
    result = run_airflow(env, "db", "migrate")
    assert result.returncode == 0, result.stderr[-3000:]
    return env
