"""``importance-tasks dags install``: thin DAG files that import the package's factories, kept
current by a second run, never overwriting a user's change without --force; the provider
metadata and the plugin through the package's entry points."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import pytest

from importance_tasks.airflow.dag_files import install_dags, render
from importance_tasks.airflow.shipped_dags import SHIPPED_DAGS
from importance_tasks.cli import main
from tests.airflow.conftest import ROOT, airflow_env, run_airflow

SHIPPED = [
    "feature_importance.py", "importance_monitor.py", "promote_model.py", "registry_audit.py",
]  # fmt: skip


def test_install_writes_thin_files_that_build_the_dags_with_the_defaults(tmp_path):
    done = install_dags(
        tmp_path,
        defaults={"feature_importance": {"methods": ["permutation"], "n_repeats": 3}},
    )
    assert [item.action for item in done] == ["written"] * len(SHIPPED)
    assert sorted(p.name for p in tmp_path.iterdir()) == SHIPPED
    text = (tmp_path / "feature_importance.py").read_text()
    assert "from importance_tasks.airflow.shipped_dags import feature_importance_dag" in text
    assert len(text.splitlines()) < 20  # thin: the DAG itself comes from the package
    namespace: dict[str, object] = {}
    exec(compile(text, "feature_importance.py", "exec"), namespace)  # what Airflow's parser does
    dag = namespace["dag"]
    assert dag.dag_id == "feature_importance"  # type: ignore[attr-defined]
    params = dag.params  # type: ignore[attr-defined]
    assert params["methods"] == ["permutation"] and params["n_repeats"] == 3


def test_installed_files_and_the_json_are_readable_by_another_user(tmp_path):
    """A dag-processor running as another user (the official image's ``airflow``) reads the
    files: they get the mode the umask gives a new file (0644 under 022), not 0600."""
    import os
    import stat

    from importance_tasks.cli.commands import write_json_atomically

    previous = os.umask(0o022)
    try:
        done = install_dags(tmp_path)
        write_json_atomically(tmp_path / "out" / "result.json", {"a": 1})
    finally:
        os.umask(previous)
    for path in [i.path for i in done] + [tmp_path / "out" / "result.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_second_install_updates_what_it_wrote_and_keeps_what_the_user_changed(tmp_path):
    install_dags(tmp_path)
    assert {i.action for i in install_dags(tmp_path)} == {"unchanged"}
    changed = tmp_path / "registry_audit.py"
    changed.write_text(
        changed.read_text().replace("registry_audit_dag()", 'registry_audit_dag(dag_id="mine")')
    )
    mine = changed.read_text()
    done = {
        i.path.name: i.action
        for i in install_dags(tmp_path, defaults={"promote_model": {"alias": "prod"}})
    }
    assert done == {
        "feature_importance.py": "unchanged",
        "registry_audit.py": "kept",
        "promote_model.py": "updated",
        "importance_monitor.py": "unchanged",
    }
    assert changed.read_text() == mine
    assert "'alias': 'prod'" in (tmp_path / "promote_model.py").read_text()
    forced = {i.path.name: i.action for i in install_dags(tmp_path, force=True)}
    assert forced["registry_audit.py"] == "updated" and changed.read_text() == render(
        "registry_audit", {}
    )


def test_a_bad_default_is_refused_before_anything_is_written(tmp_path, capsys):
    folder = tmp_path / "dags"
    assert main(["dags", "install", str(folder), "--set", "n_repeats=0"]) == 2
    assert "n_repeats" in capsys.readouterr().err
    assert main(["dags", "install", str(folder), "--set", "no_such_param=1"]) == 2
    assert "no_such_param" in capsys.readouterr().err
    assert not folder.exists()
    with pytest.raises(ValueError, match="no shipped DAG"):
        install_dags(folder, defaults={"other_dag": {}})


def test_the_command_sets_a_param_on_every_dag_that_has_it_or_on_one(tmp_path, capsys):
    code = main([
        "dags", "install", str(tmp_path), "--set", "methods=[\"probe\"]",
        "--set", "promote_model.alias=production",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    for name in ("feature_importance.py", "registry_audit.py"):
        assert "'methods': ['probe']" in (tmp_path / name).read_text()
    assert "'alias': 'production'" in (tmp_path / "promote_model.py").read_text()
    assert "alias" not in (tmp_path / "registry_audit.py").read_text()
    (tmp_path / "feature_importance.py").write_text("# mine\n")
    assert main(["dags", "install", str(tmp_path)]) == 1  # a kept file is reported
    assert "--force" in capsys.readouterr().err


NOTIFIERS = """
from airflow.sdk import BaseNotifier


class Drift(BaseNotifier):
    def notify(self, context):
        pass


slack_drift = Drift()
"""


def test_the_monitor_gets_its_schedule_and_notifiers_from_the_command(
    tmp_path, capsys, monkeypatch
):
    (tmp_path / "team_alerts.py").write_text(NOTIFIERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    folder = tmp_path / "dags"
    code = main([
        "dags", "install", str(folder), "--schedule", "importance_monitor=@daily",
        "--notifier", "importance_monitor=team_alerts:slack_drift",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    text = (folder / "importance_monitor.py").read_text()
    assert "from team_alerts import slack_drift" in text
    namespace: dict[str, object] = {}
    exec(compile(text, "importance_monitor.py", "exec"), namespace)
    dag = namespace["dag"]
    assert dag.schedule == "@daily"  # type: ignore[attr-defined]
    assert dag.max_active_runs == 1 and not dag.catchup  # type: ignore[attr-defined]
    assert "importance_monitor_dag()" in render("importance_monitor", {})  # no schedule by default
    other = tmp_path / "other"
    refused = {
        "promote_model=team_alerts:slack_drift": "promote_model takes no ['notifiers']",
        "importance_monitor=team_alerts:nothing": "'team_alerts:nothing' cannot be imported",
    }
    for flag, message in refused.items():
        assert main(["dags", "install", str(other), "--notifier", flag]) == 2
        assert message in capsys.readouterr().err
    assert not other.exists()


def test_the_repository_dags_are_what_install_writes(tmp_path):
    install_dags(tmp_path)
    for name in SHIPPED:
        assert (ROOT / "dags" / name).read_text() == (tmp_path / name).read_text(), (
            f"dags/{name} is stale: run `importance-tasks dags install dags`"
        )
    assert set(SHIPPED_DAGS) == {name.removesuffix(".py") for name in SHIPPED}


def test_the_entry_points_name_the_plugin_and_the_provider():
    plugins = {e.name: e for e in entry_points(group="airflow.plugins")}
    assert plugins["importance_tasks"].load().name == "importance_tasks"
    (provider,) = [
        e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("importance")
    ]
    info = provider.load()()
    from airflow.providers_manager import _create_provider_info_schema_validator

    _create_provider_info_schema_validator().validate(info)
    assert info["package-name"] == "importance-tasks"
    (connection,) = info["connection-types"]
    from importlib import import_module

    module, _, name = connection["hook-class-name"].rpartition(".")
    hook = getattr(import_module(module), name)
    assert hook.conn_type == connection["connection-type"] == "mlflow"


@pytest.mark.integration
def test_airflow_lists_the_plugin_and_the_mlflow_connection_type(tmp_path):
    """With no plugins folder at all: what the package's entry points register."""
    env = airflow_env(tmp_path, AIRFLOW__CORE__DAGS_FOLDER=str(tmp_path / "dags"))
    assert not (tmp_path / "plugins").exists()
    plugins = run_airflow(env, "plugins", "-o", "json")
    assert plugins.returncode == 0, plugins.stderr[-2000:]
    (ours,) = [p for p in json.loads(plugins.stdout) if p["name"] == "importance_tasks"]
    assert "importance_tasks.airflow.plugin:ImportancePlugin" in ours["source"]  # entry point
    assert "MlflowRunLink" in json.dumps(ours["global_operator_extra_links"])
    assert ours["fastapi_apps"][0]["url_prefix"] == "/importance"
    providers = run_airflow(env, "providers", "hooks", "-o", "json")
    assert providers.returncode == 0, providers.stderr[-2000:]
    assert "importance_tasks.airflow.mlflow_connection.MlflowHook" in providers.stdout
