"""An embedded Airflow (SQLite metadata database) for DAG tests, run through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import stop_process_group

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
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


def scheduler_env(
    home: Path, *, database: str, tracking_uri: str, port: int, **extra: str
) -> dict[str, str]:
    """Environment for a real scheduler, dag-processor and api-server on ``port``, with its
    metadata database migrated and the DAGs serialized."""
    env = airflow_env(
        home,
        MLFLOW_TRACKING_URI=tracking_uri,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=database,
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=f"http://localhost:{port}",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://localhost:{port}/execution/",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        **extra,
    )
    for command in (("db", "migrate"), ("dags", "reserialize")):
        result = run_airflow(env, *command)
        assert result.returncode == 0, result.stderr[-3000:]
    return env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory, mlflow_server) -> dict[str, str]:
    """AIRFLOW_HOME with a migrated SQLite database; MLflow is the test server."""
    home = tmp_path_factory.mktemp("airflow")
    env = airflow_env(home, MLFLOW_TRACKING_URI=mlflow_server)
    result = run_airflow(env, "db", "migrate")
    assert result.returncode == 0, result.stderr[-3000:]
    return env


@contextmanager
def airflow_components(
    env: dict[str, str],
    commands: Sequence[Sequence[str]],
    logs: Path,
    *,
    envs: Sequence[dict[str, str]] | None = None,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Run long-lived Airflow components (scheduler, workers, ...), each in its own process group
    logging to ``logs/<i>-<name>.log``, with ``env`` or its own entry of ``envs``; stopped on
    exit."""
    processes = []
    try:
        for i, command in enumerate(commands):
            with open(logs / f"{i}-{command[0]}.log", "wb") as log:
                processes.append(
                    subprocess.Popen(
                        [AIRFLOW, *command],
                        env=env if envs is None else envs[i],
                        start_new_session=True,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        yield processes
    finally:
        for process in processes:
            stop_process_group(process)


def wait_for_run(
    database: str,
    dag_id: str,
    *,
    run_type: str,
    timeout: float,
    components: Sequence[subprocess.Popen[bytes]] = (),
) -> dict:
    """The newest finished run of ``dag_id`` of ``run_type`` in the metadata database; fails at
    once when one of ``components`` has exited."""
    engine = sa.create_engine(database)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [" ".join(map(str, p.args[1:])) for p in components if p.poll() is not None]
        if dead:
            raise AssertionError(f"Airflow component(s) exited: {dead}; see their logs")
        with engine.connect() as conn:
            row = (
                conn.execute(
                    sa.text(
                        "select run_id, state, conf from dag_run where dag_id = :d and "
                        "run_type = :t order by id desc limit 1"
                    ),
                    {"d": dag_id, "t": run_type},
                )
                .mappings()
                .first()
            )
        if row and row["state"] in ("success", "failed"):
            return dict(row)
        time.sleep(2)
    raise AssertionError(f"no finished {run_type} run of {dag_id} within {timeout} s")


def metadata_rows(database: str, sql: str, **params: str) -> list[dict]:
    """The rows of one query of an Airflow metadata database (a SQLAlchemy URL), as dicts."""
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.text(sql), params).mappings()]


def sqlite_metadata(env: dict[str, str]) -> str:
    """The URL of the SQLite metadata database in ``env``'s Airflow home."""
    return f"sqlite:///{env['AIRFLOW_HOME']}/airflow.db"


def last_run_tasks(env: dict[str, str], dag_id: str) -> list[dict]:
    """The task instances (task_id, map_index, state, try_number) of the DAG's most recent run
    in the SQLite metadata database of ``env``'s Airflow home (what ``airflow tasks
    states-for-dag-run`` prints, without two more Airflow processes per look)."""
    return metadata_rows(
        sqlite_metadata(env),
        "select ti.task_id, ti.map_index, ti.state, ti.try_number from task_instance ti "
        "join dag_run r on ti.dag_id = r.dag_id and ti.run_id = r.run_id "
        "where ti.dag_id = :d and r.id = (select max(id) from dag_run where dag_id = :d)",
        d=dag_id,
    )


def task_rows(database: str, dag_id: str, run_id: str, task_id: str) -> list[dict]:
    """The task instances of one task in one run (mapped ones included)."""
    return metadata_rows(
        database,
        "select map_index, state, start_date, end_date, hostname, pid, try_number "
        "from task_instance where dag_id = :d and run_id = :r and task_id = :t "
        "order by map_index",
        d=dag_id,
        r=run_id,
        t=task_id,
    )


def max_overlap(rows: Sequence[dict]) -> int:
    """The most task instances running at one moment."""
    return max(
        sum(1 for o in rows if o["start_date"] <= r["start_date"] < o["end_date"]) for r in rows
    )
