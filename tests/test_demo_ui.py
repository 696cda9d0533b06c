"""``make ui`` on the same ``.demo/`` state twice: MLflow reads back the webhook secret it
stored the first time (it is encrypted with a key the demo keeps, not one drawn per start)."""

from __future__ import annotations

import pytest

from importance_tasks.cli import demo
from importance_tasks.cli.demo import stop_process_group
from importance_tasks.mlflow_io.client import connect
from importance_tasks.mlflow_io.webhooks import WEBHOOK_NAME, register_webhook
from tests.conftest import start_mlflow_server

pytestmark = pytest.mark.integration


def _start(folder):  # type: ignore[no-untyped-def]
    """The MLflow server as ``make ui`` starts it on the demo's state (its key and store)."""
    env = {
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": demo._webhook_encryption_key(),
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    }
    return start_mlflow_server(
        folder, backend_store_uri=f"sqlite:///{folder / 'mlflow.db'}", env=env
    )


def test_the_ui_stack_starts_again_on_the_same_state(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "DEMO_DIR", tmp_path)
    receiver = "http://127.0.0.1:9/importance/mlflow"
    process, uri = _start(tmp_path)
    try:
        first = register_webhook(connect(uri), url=receiver, secret="s3cret")
    finally:
        stop_process_group(process)
    process, uri = _start(tmp_path)
    try:
        client = connect(uri)
        assert [w.webhook_id for w in client.list_webhooks() if w.name == WEBHOOK_NAME] == [first]
        # and the stored secret is usable: updating the webhook reads and re-encrypts it
        assert register_webhook(connect(uri), url=receiver, secret="s3cret") == first
    finally:
        stop_process_group(process)


def test_make_demo_runs_the_stage_and_prints_the_ranking(tmp_path):
    """The README's first command on a fresh state: the shipped DAG installed into the demo's
    DAG folder and run through dag.test(), and the ranking with its notes printed."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "IMPORTANCE_DEMO_DIR": str(tmp_path / "demo")}
    found = subprocess.run(
        [sys.executable, "-m", "importance_tasks.cli.demo"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert found.returncode == 0, (found.stdout + found.stderr)[-3000:]
    assert "rank  interval  feature" in found.stdout and "which way: " in found.stdout
    assert (tmp_path / "demo" / "importance.json").is_file()
    assert sorted(p.name for p in (tmp_path / "demo" / "dags").glob("*.py")) == [
        "feature_importance.py", "importance_monitor.py", "promote_model.py", "registry_audit.py",
    ]  # fmt: skip
