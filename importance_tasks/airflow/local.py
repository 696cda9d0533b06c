"""Running a DAG of this project in the current process (``dag.test()``), for the demo."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["test_dag"]


def test_dag(dag_folder: Path, dag_id: str, conf: Mapping[str, Any]) -> tuple[str, str]:
    """Run ``dag_id`` once with ``conf`` (embedded Airflow); returns (state, run id)."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(dag_folder)).get_dag(dag_id)
    if dag is None:
        raise LookupError(f"no DAG {dag_id!r} in {dag_folder}")
    dag_run = dag.test(run_conf=dict(conf))
    return str(dag_run.state), str(dag_run.run_id)
