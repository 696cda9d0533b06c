"""The package as a team installs it into its own Airflow: the wheel built by ``python -m
build``, installed into a clean environment beside ``tensorflow`` (not the CPU distribution),
with an AIRFLOW_HOME that has no plugins folder: Airflow lists our plugin, the installed DAGs
parse, and the demo's DAG run completes from the installed package alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("wheel")]

ROOT = Path(__file__).resolve().parents[1]
UV = str(Path(sys.executable).parent / "uv")


def _run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    found = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    assert found.returncode == 0, (found.stdout + found.stderr)[-4000:]
    return found.stdout


def _metadata(wheel: Path) -> tuple[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        read = lambda suffix: archive.read(next(n for n in names if n.endswith(suffix))).decode()  # noqa: E731
        return read(".dist-info/METADATA"), read(".dist-info/entry_points.txt")


def test_the_wheel_installs_beside_tensorflow_and_runs_the_analysis(tmp_path):
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT)
    (wheel,) = dist.glob("*.whl")
    assert len(list(dist.glob("*.tar.gz"))) == 1
    metadata, entry_points = _metadata(wheel)
    assert "Requires-Python: >=3.11\n" in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert not [
        r for r in requires if r.startswith("Requires-Dist: tensorflow") and "extra" not in r
    ]
    assert (
        "Provides-Extra: tensorflow\n" in metadata and "Provides-Extra: tensorflow-cpu" in metadata
    )
    assert "[airflow.plugins]" in entry_points and "[apache_airflow_provider]" in entry_points

    env_dir = tmp_path / "env"
    _run(UV, "venv", "--quiet", "--python", sys.executable, env_dir)
    python = env_dir / "bin" / "python"
    # The lock as constraints: the versions CI tests (and uv's cache); tensorflow is not in it.
    _run(UV, "pip", "install", "--quiet", "--python", python, wheel, "tensorflow",
         "-c", ROOT / "requirements.lock")  # fmt: skip
    installed = json.loads(_run(UV, "pip", "list", "--python", python, "--format", "json"))
    names = {p["name"] for p in installed}
    assert "tensorflow" in names and "tensorflow-cpu" not in names

    home = tmp_path / "airflow"
    env = {
        key: value for key, value in os.environ.items()
        if key != "PYTHONPATH" and not key.startswith("AIRFLOW")
    }  # fmt: skip
    env.update(
        AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"), TF_CPP_MIN_LOG_LEVEL="2",
    )  # fmt: skip
    bin_dir = env_dir / "bin"
    _run(bin_dir / "importance-tasks", "dags", "install", home / "dags", env=env, cwd=tmp_path)
    assert not (home / "plugins").exists()
    plugins = json.loads(_run(bin_dir / "airflow", "plugins", "-o", "json", env=env, cwd=tmp_path))
    assert [p["name"] for p in plugins] == ["importance_tasks"]
    parse = """
import json
from airflow.dag_processing.dagbag import DagBag
import importance_tasks
bag = DagBag(dag_folder=__import__("os").environ["AIRFLOW__CORE__DAGS_FOLDER"])
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "dags": sorted(bag.dag_ids), "package": importance_tasks.__file__}))
"""
    report = json.loads(_run(python, "-c", parse, env=env, cwd=tmp_path).splitlines()[-1])
    assert report["errors"] == {}
    assert report["dags"] == [
        "feature_importance", "importance_monitor", "promote_model", "registry_audit",
    ]  # fmt: skip
    assert str(env_dir) in report["package"]  # the installed package, not this checkout

    env["IMPORTANCE_DEMO_DIR"] = str(tmp_path / "demo")
    demo = _run(python, "-m", "importance_tasks.cli.demo", env=env, cwd=tmp_path)
    assert "rank  interval  feature" in demo and "success" in demo
