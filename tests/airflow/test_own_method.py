"""A team's own method, installed as a package under the ``importance_tasks.methods`` entry-point
group, runs through ``explain()``, the command line's ``--methods`` and ``airflow dags test``:
every process that imports the package sees it, and nothing else names it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from importance_tasks.contract import VersionStatus, VersionTag, metric_key
from importance_tasks.methods import ENTRY_POINT_GROUP
from tests.airflow.conftest import run_airflow
from tests.conftest import register_friedman

pytestmark = pytest.mark.integration

TOY = Path(__file__).resolve().parents[1] / "toy_method" / "toy_importance.py"
ACTING, NOISE = [f"x{i}" for i in range(5)], [f"x{i}" for i in range(5, 10)]


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory) -> Path:
    """A folder holding the toy method installed as a distribution (its module and its
    ``.dist-info`` with the entry point), as pip lays a package out in site-packages."""
    site = tmp_path_factory.mktemp("toy-site")
    (site / TOY.name).write_text(TOY.read_text())
    info = site / "toy_importance-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-importance\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nmean_shift = toy_importance:MeanShift\n"
    )
    return site


def _with_toy(env: dict[str, str], site: Path) -> dict[str, str]:
    return {**env, "PYTHONPATH": os.pathsep.join([str(site), env.get("PYTHONPATH", "")])}


def _acting_first(importance: dict[str, float]) -> None:
    assert min(importance[f] for f in ACTING) > max(importance[f] for f in NOISE), importance


def test_explain_runs_a_method_installed_under_the_entry_point(friedman, toy_site, tmp_path):
    model_path = tmp_path / "friedman.keras"
    friedman.model.keras_model.save(model_path)
    code = f"""
import json, numpy as np
from importance_tasks import EvalData, explain, load_keras_file
from importance_tasks.methods import REGISTRY
X, y = np.load({str(tmp_path / "x.npy")!r}), np.load({str(tmp_path / "y.npy")!r})
data = EvalData(X=X, y=y, feature_names=[f"x{{i}}" for i in range(10)])
analysis = explain(load_keras_file({str(model_path)!r}), data, methods=["mean_shift", "probe"],
                   method_options={{"mean_shift": {{"n_rows": 300}}}})
result = analysis.results["mean_shift"]
print(json.dumps({{"label": REGISTRY["mean_shift"].label, "rows": result.settings["n_rows"],
                  "importance": dict(zip(result.features, result.mean.tolist())),
                  "counted": list(analysis.consensus.methods)}}))
"""
    import numpy as np

    np.save(tmp_path / "x.npy", friedman.data.X)
    np.save(tmp_path / "y.npy", friedman.data.y)
    env = _with_toy({**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, toy_site)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["label"] == "shift" and report["rows"] == 300
    assert set(report["counted"]) == {"mean_shift", "probe"}
    _acting_first(report["importance"])


def test_the_command_line_runs_it_with_methods(friedman, toy_site, tmp_path):
    import pandas as pd

    model_path, data_path, out = tmp_path / "m.keras", tmp_path / "e.parquet", tmp_path / "r.json"
    friedman.model.keras_model.save(model_path)
    frame = pd.DataFrame(friedman.data.X, columns=list(friedman.data.feature_names))
    frame.assign(y=friedman.data.y).to_parquet(data_path)
    script = Path(sys.executable).parent / "importance-tasks"
    command = [str(script), "explain", "--model", str(model_path), "--data", str(data_path),
               "--target", "y", "--methods", "mean_shift,weights", "--json", str(out)]  # fmt: skip
    env = _with_toy({**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, toy_site)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "shift" in done.stdout.splitlines()[0]  # its label heads its column
    result = json.loads(out.read_text())["methods"]["mean_shift"]
    _acting_first(result["importance"])
    # Without the package, the name is refused with the methods there are.
    plain = subprocess.run(command, capture_output=True, text=True, check=False)
    assert plain.returncode == 2 and "mean_shift" in plain.stderr


def test_airflow_dags_test_runs_it(airflow_home, friedman, mlflow_server, toy_site):
    import mlflow

    name = f"toy-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, mlflow_server, name)
    conf = {"model_name": name, "model_alias": "champion", "methods": ["mean_shift", "permutation"],
            "n_repeats": 2,
            "tag_version": True}  # fmt: skip
    env = _with_toy(airflow_home, toy_site)
    done = run_airflow(env, "dags", "test", "feature_importance", "-c", json.dumps(conf))
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    client = mlflow.MlflowClient(mlflow_server)
    tags = client.get_model_version(name, "1").tags
    assert tags[VersionTag.STATUS] == VersionStatus.COMPLETE
    metrics = client.get_run(tags[VersionTag.RUN_ID]).data.metrics
    _acting_first({f: metrics[metric_key("importance", "mean_shift", f)] for f in ACTING + NOISE})
