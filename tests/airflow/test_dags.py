"""The DAG files parse quickly and cleanly, and the DAGs run end to end with `airflow dags test`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import mlflow
import numpy as np
import pytest

from importance_tasks import contract
from importance_tasks.contract import (
    AuditStatus,
    MethodStatus,
    Metric,
    RunTag,
    VersionStatus,
    VersionTag,
    output_tag,
)
from tests.airflow.conftest import ROOT, airflow_env, last_run_tasks, run_airflow
from tests.conftest import register_friedman
from tests.mixed_models import DRIVERS, IGNORED, mixed_frame, mixed_model

# Not grouped: each pytest-xdist worker has its own Airflow home (SQLite takes one writer, and a
# worker runs its tests one at a time), so the DAG runs spread over the workers.
pytestmark = pytest.mark.integration


def test_dagbag_has_no_errors_and_parsing_is_light(tmp_path):
    code = f"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={str(ROOT / "dags")!r})
heavy = [m for m in ("tensorflow", "keras", "mlflow", "pandas", "sklearn") if m in sys.modules]
print(json.dumps({{
    "errors": {{k: str(v) for k, v in bag.import_errors.items()}},
    "dags": sorted(bag.dag_ids),
    "heavy": heavy,
}}))
"""
    out = (
        subprocess.run(
            [sys.executable, "-c", code],
            env=airflow_env(tmp_path),
            text=True,
            capture_output=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    report = json.loads(out)
    assert report["errors"] == {}
    assert report["dags"] == [
        "example_reuse",
        "feature_importance",
        "importance_monitor",
        "promote_model",
        "registry_audit",
        "train_example",
    ]
    # Light: parsing imports none of the heavy libraries (a timed bound failed on a loaded
    # machine; parse times belong in benchmarks, not in assertions).
    assert report["heavy"] == []


def _dags_test(env, dag_id: str, conf: dict):
    """``airflow dags test DAG_ID -c CONF``: the finished process."""
    return run_airflow(env, "dags", "test", dag_id, "-c", json.dumps(conf))


def test_analysis_dag_end_to_end(airflow_home, friedman, mlflow_server):
    name = f"dag-{uuid.uuid4().hex[:6]}"
    version = register_friedman(friedman, mlflow_server, name)
    conf = {
        "model_name": name,
        "model_alias": "champion",
        "methods": ["permutation", "probe", "weights"],
        "n_repeats": 3,
        "method_options": {"permutation": {"n_repeats": 4}, "probe": {"baseline": "median"}},
        "experiment": "dag-e2e",
        "tag_version": True,  # other settings than the stage's: tag only when asked
    }
    result = _dags_test(airflow_home, "feature_importance", conf)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    states = last_run_tasks(airflow_home, "feature_importance")
    computes = [s for s in states if s["task_id"] == "analysis.compute"]
    # The three jobs packed into at most one task per processor (stage.packing).
    assert 1 <= len(computes) <= min(3, os.cpu_count() or 1)
    assert all(s["state"] == "success" for s in states)
    client = mlflow.MlflowClient(mlflow_server)
    tags = client.get_model_version(name, version).tags
    assert tags[VersionTag.STATUS] == VersionStatus.COMPLETE
    run = client.get_run(tags[VersionTag.RUN_ID])
    assert run.info.status == "FINISHED" and run.data.params["model_version"] == version
    for method in ("permutation", "probe", "weights"):
        assert contract.metric_key(Metric.IMPORTANCE, method, "x0") in run.data.metrics
    assert "rank/consensus/x0" in run.data.metrics
    paths = {a.path for a in client.list_artifacts(run.info.run_id, "importance")}
    assert {
        contract.MANIFEST,
        contract.REPORT,
        contract.RANKINGS_TABLE,
        contract.STEPS,  # in a compute task, after permutation
    } <= paths
    assert any(k.startswith("interaction/") for k in run.data.metrics)
    assert VersionTag.DIRECTIONS in tags
    # The method_options Param reached the methods (and beat the n_repeats shortcut).
    logged = {m: _logged(run.info.run_id, m).settings for m in ("permutation", "probe")}
    assert logged["permutation"]["n_repeats"] == 4
    assert logged["probe"]["baseline"] == "median"


def test_a_dict_input_model_with_string_columns_runs_every_default_method(
    airflow_home, mlflow_server
):
    """Keras' structured-data style registered as it is: named inputs, strings in the data,
    lookups inside the model; every default method runs as a task and finds the drivers."""
    from importance_tasks.mlflow_io.training import register_keras_model

    name = f"dag-mixed-{uuid.uuid4().hex[:6]}"
    version = register_keras_model(
        mixed_model(), name=name, eval_frame=mixed_frame(300), target="y",
        tracking_uri=mlflow_server, alias="champion",
    )  # fmt: skip
    conf = {"model_name": name, "model_alias": "champion", "experiment": "dag-mixed"}
    result = _dags_test(airflow_home, "feature_importance", conf)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    client = mlflow.MlflowClient(mlflow_server)
    tags = client.get_model_version(name, version).tags
    assert tags[VersionTag.STATUS] == VersionStatus.COMPLETE
    local = mlflow.artifacts.download_artifacts(
        run_id=tags[VersionTag.RUN_ID], artifact_path=contract.MANIFEST
    )
    with open(local) as handle:
        manifest = json.load(handle)
    assert set(manifest["methods"]) == {
        "permutation", "conditional_permutation", "probe", "integrated_gradients", "shap", "lime",
        "sage",
    }  # fmt: skip
    assert "StringLookup" in manifest["skip_reasons"]["weights"]
    assert manifest["data"]["column_types"]["city"] == "string (4 values)"
    top = tags[VersionTag.TOP_FEATURES].split(",")[: len(DRIVERS)]
    assert set(top) == set(DRIVERS) and not set(top) & set(IGNORED)


def _logged(run_id: str, method: str):
    from importance_tasks.result import Importance

    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path=contract.result_path(method)
    )
    with open(local) as handle:
        return Importance.from_record(json.load(handle))


def _try_numbers(env, dag_id: str, task_id: str) -> list[tuple[str, int]]:
    """(state, try number) of ``task_id`` in the DAG's most recent run: a task that failed
    without a retry has exactly one try."""
    return [
        (str(t["state"]), int(t["try_number"]))
        for t in last_run_tasks(env, dag_id)
        if t["task_id"] == task_id
    ]


def test_row_shards_map_to_tasks_and_equal_the_method_in_one_process(
    airflow_home, friedman, mlflow_server
):
    """shard_rows=300 splits Friedman's 1,000 rows into 4 shards: permutation and probe each
    run as 4 mapped tasks, and the logged results equal each method computed in one process;
    SHAP and SAGE, each a task of its own, do the work sized in one process and give its
    numbers (the same path: the work is decided by the model and data, not the worker)."""
    from importance_tasks.methods import Permutation, Probe, Sage, Shap

    name = f"shard-{uuid.uuid4().hex[:6]}"
    version = register_friedman(friedman, mlflow_server, name)
    conf = {
        "model_name": name,
        "model_alias": "champion",
        "methods": ["permutation", "probe", "shap", "sage"],
        "n_repeats": 2,
        "seed": 3,
        "shard_rows": 300,
        "experiment": "dag-shards",
        "compute_slots": 10,  # one task per job
        "tag_version": True,
    }
    result = _dags_test(airflow_home, "feature_importance", conf)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    states = last_run_tasks(airflow_home, "feature_importance")
    computes = [s for s in states if s["task_id"] == "analysis.compute"]
    assert len(computes) == 10 and all(s["state"] == "success" for s in states)

    client = mlflow.MlflowClient(mlflow_server)
    run_id = client.get_model_version(name, version).tags[VersionTag.RUN_ID]
    parts = {
        a.path
        for a in client.list_artifacts(
            run_id, os.path.dirname(contract.part_path("permutation", 0))
        )
    }
    assert len(parts) == 4
    in_process = {
        "permutation": Permutation(n_repeats=2, random_state=3, shard_rows=300),
        "probe": Probe(random_state=3, shard_rows=300),
    }
    for method, instance in in_process.items():
        logged = _logged(run_id, method)
        expected = instance.compute(friedman.model, friedman.data)
        assert logged.settings["n_shards"] == 4
        # The same shards, the same batch shapes, the same processor: equal to float64
        # rounding of the combination (the parts arrive in another order).
        np.testing.assert_allclose(logged.mean, expected.mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(logged.std, expected.std, rtol=1e-9, atol=1e-12)
    for method, instance in {"shap": Shap(random_state=3), "sage": Sage(random_state=3)}.items():
        logged = _logged(run_id, method)
        expected = instance.compute(friedman.model, friedman.data)
        assert logged.status == expected.status == MethodStatus.COMPLETE
        for key in ("n_rows", "max_evals", "n_orderings"):
            assert logged.settings.get(key) == expected.settings.get(key), key
        # The same batches on the same processor in another process: equal up to the order of
        # a threaded float32 sum (a relative 1e-5, some 80 float32 ulps).
        np.testing.assert_allclose(
            logged.mean, expected.mean, rtol=0, atol=1e-5 * expected.mean.max()
        )


def test_bad_params_fail_at_plan_time_without_retrying(airflow_home, friedman, mlflow_server):
    name = f"bad-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, mlflow_server, name)
    model = {"model_name": name, "model_alias": "champion"}
    cases = [
        ({"model_name": "no-such-model-anywhere", "model_alias": "champion"}, "no registered"),
        # Refused once the model is loaded (the options' own checks are tested in process:
        # every refusal reaches Airflow through the same AirflowFailException).
        ({**model, "methods": ["permutation"], "scoring": "log_loss"}, "class probabilities"),
    ]
    for conf, message in cases:
        result = _dags_test(airflow_home, "feature_importance", {**conf, "experiment": name})
        output = result.stdout + result.stderr
        assert message in output and "AirflowFailException" in output, output[-3000:]
        # Failed on its first try (never up for retry), and nothing was computed.
        assert _try_numbers(airflow_home, "feature_importance", "analysis.plan") == [("failed", 1)]
        computes = _try_numbers(airflow_home, "feature_importance", "analysis.compute")
        assert computes == [("upstream_failed", 0)]  # never expanded, never run
    # Nothing was opened in MLflow for the refused analyses.
    assert mlflow.MlflowClient(mlflow_server).get_experiment_by_name(name) is None
    # The trigger form's schema refuses what it can before a run starts.
    refused = _dags_test(airflow_home, "feature_importance", {"model_name": "m", "n_repeats": 0})
    assert refused.returncode != 0
    assert "n_repeats" in refused.stdout + refused.stderr


@pytest.mark.parametrize(
    "conf,named",
    [
        ({"n_repeats": 0}, "n_repeats"),
        ({"method_options": {"shap": {"max_eval": 60}}}, "max_eval"),
        # A method's option out of its declared range, by the method's own declaration.
        ({"method_options": {"lime": {"num_samples": 0}}}, "num_samples"),
        ({"method_options": {"permutation": {"max_samples": -1}}}, "max_samples"),
    ],
)
def test_the_trigger_forms_schema_refuses_a_bad_setting(conf, named):
    """What ``airflow dags test`` and a trigger validate first: the DAG's Params (shown once
    through the command line above)."""
    import copy

    from airflow.sdk.exceptions import ParamValidationError

    from importance_tasks.airflow.shipped_dags import feature_importance_dag

    params = copy.deepcopy(feature_importance_dag().params)
    with pytest.raises(ParamValidationError, match=named):
        params.update({"model_name": "m", **conf})
        params.validate()


def test_registry_audit_analyses_missing_versions_and_compares(
    airflow_home, friedman, mlflow_server
):
    name = f"audit-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, mlflow_server, name)
    register_friedman(friedman, mlflow_server, name)
    conf = {
        "name_pattern": name,
        "methods": ["permutation", "weights"],
        "n_repeats": 2,
        "experiment": "audit-e2e",
        "audit_experiment": "audit-table",
        "tag_version": True,  # other settings than the stage's: the tags only when asked
    }
    result = _dags_test(airflow_home, "registry_audit", conf)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    client = mlflow.MlflowClient(mlflow_server)
    for version in ("1", "2"):
        assert (
            client.get_model_version(name, version).tags[VersionTag.STATUS]
            == VersionStatus.COMPLETE
        )
    v2_run = client.get_model_version(name, "2").tags[VersionTag.RUN_ID]
    metrics = client.get_run(v2_run).data.metrics
    assert metrics["comparison/previous_version"] == 1.0
    assert metrics["comparison/spearman"] == pytest.approx(1.0)
    audit = client.search_runs([client.get_experiment_by_name("audit-table").experiment_id])[0]
    table = mlflow.artifacts.download_artifacts(
        run_id=audit.info.run_id, artifact_path=f"{contract.ARTIFACT_DIR}/{contract.AUDIT_TABLE}"
    )
    with open(table) as handle:
        lines = handle.read().splitlines()
    assert lines[0].startswith("model,version,status,top_features,previous_version,spearman")
    assert lines[1].startswith(f"{name},1,analysed,") and lines[2].startswith(f"{name},2,analysed,")
    assert ",1,1.0," in lines[2]  # version 2 compared with version 1
    # A second audit finds nothing to analyse, and computes one earlier analysis again.
    again = _dags_test(airflow_home, "registry_audit", {**conf, "verify_sample": 1})
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    audits = client.search_runs(
        [client.get_experiment_by_name("audit-table").experiment_id],
        order_by=["attributes.start_time DESC"],
    )
    assert audits[0].data.metrics[contract.audit_metric(AuditStatus.UP_TO_DATE)] == 2.0
    table = mlflow.artifacts.download_artifacts(
        run_id=audits[0].info.run_id,
        artifact_path=f"{contract.ARTIFACT_DIR}/{contract.AUDIT_TABLE}",
    )
    with open(table) as handle:
        lines = handle.read().splitlines()
    assert lines[0].endswith(",run_id,verified")
    assert lines[1].endswith(",identical") and lines[2].endswith(",")  # one of two verified
    v1_run = client.get_model_version(name, "1").tags[VersionTag.RUN_ID]
    assert client.get_run(v1_run).data.tags[RunTag.VERIFIED] == "identical"


def _register_plainly(friedman, uri: str, name: str, *, with_data: bool, folder) -> str:
    """A version registered the way a team does it: MLflow's own calls, none of ours."""
    from tests.conftest import friedman_frame

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment(name)
    with mlflow.start_run():
        if with_data:
            path = folder / f"{name}.parquet"
            friedman_frame(friedman.data).to_parquet(path)
            mlflow.log_param("target", "y")
            dataset = mlflow.data.from_pandas(friedman_frame(friedman.data), source=str(path))
            mlflow.log_input(dataset, context="evaluation")
        info = mlflow.tensorflow.log_model(
            friedman.model.keras_model,
            name="model",
            input_example=friedman.data.X[:3],
            registered_model_name=name,
            pip_requirements=["tensorflow"],
        )
    return str(info.registered_model_version)


def test_a_plainly_registered_version_runs_twice_into_one_run_with_the_tags_of_record(
    airflow_home, friedman, mlflow_server, tmp_path
):
    """The same analysis twice through the DAG against a server's SQL store (the second
    aggregate once failed on the logged model's metrics): one run, the tags of record. (That an
    analysis with other settings leaves those tags is the stage's rule, tested in process:
    ``test_a_rerun_adds_nothing_and_ad_hoc_analyses_leave_the_tags``.)"""
    name = f"plain-{uuid.uuid4().hex[:6]}"
    version = _register_plainly(friedman, mlflow_server, name, with_data=True, folder=tmp_path)
    version_of = {"model_name": name, "model_version": version}
    # Two methods with the sanity check: what this test is about (one run for one key, the tags
    # set by the first and kept by the second) does not depend on which methods run.
    record = {
        **version_of, "methods": ["permutation", "probe"], "n_repeats": 2, "sanity_check": True,
        "tag_version": True,
    }  # fmt: skip
    for _ in range(2):
        result = _dags_test(airflow_home, "feature_importance", record)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        assert all(
            s["state"] == "success" for s in last_run_tasks(airflow_home, "feature_importance")
        )
    client = mlflow.MlflowClient(mlflow_server)
    tags = client.get_model_version(name, version).tags
    run = client.get_run(tags[VersionTag.RUN_ID])
    live = client.search_runs(
        [run.info.experiment_id], f"tags.`importance.key` = '{run.data.tags['importance.key']}'"
    )
    assert [r.info.run_id for r in live] == [run.info.run_id]
    assert len(client.get_metric_history(run.info.run_id, "rank/consensus/x0")) == 1
    assert run.data.params["feature_names_checked"] == "true"


def test_a_version_without_data_is_tagged_and_its_run_skipped_not_failed(
    airflow_home, friedman, mlflow_server, tmp_path
):
    name = f"nodata-{uuid.uuid4().hex[:6]}"
    version = _register_plainly(friedman, mlflow_server, name, with_data=False, folder=tmp_path)
    conf = {"model_name": name, "model_version": version}
    result = _dags_test(airflow_home, "feature_importance", conf)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    states = {s["task_id"]: s["state"] for s in last_run_tasks(airflow_home, "feature_importance")}
    assert states["analysis.plan"] == "skipped"
    assert "failed" not in states.values()
    tags = mlflow.MlflowClient(mlflow_server).get_model_version(name, version).tags
    assert tags[VersionTag.STATUS] == VersionStatus.NEEDS_DATA
    assert tags[VersionTag.REASON].startswith(f"no evaluation data for models:/{name}/{version}")
    assert "needs_data: no evaluation data" in result.stdout + result.stderr  # the task log
    failing = _dags_test(
        airflow_home, "feature_importance", {**conf, "fail_when_unanalysable": True}
    )
    assert failing.returncode != 0
    states = {s["task_id"]: s["state"] for s in last_run_tasks(airflow_home, "feature_importance")}
    assert states["analysis.plan"] == "failed"


def test_a_sequence_model_runs_through_the_dag_from_its_long_table(
    airflow_home, mlflow_server, tmp_path
):
    """A forecaster over windows of 6 hours x 4 variables, logged with plain MLflow with its
    table of three stations: `airflow dags test` with the window settings as Params ranks its
    two acting variables first and tags the version."""
    from tests.test_windows import VARIABLES, _forecaster, _long_table

    name = f"forecaster-{uuid.uuid4().hex[:6]}"
    table = tmp_path / "stations.parquet"
    _long_table().to_parquet(table)
    _log_with_table(mlflow_server, name, _forecaster(), table, target="y")
    conf = {
        "model_name": name, "model_version": "1", "methods": ["permutation", "probe"],
        "time_column": "hour", "series_column": "station", "feature_names": list(VARIABLES),
        "tag_version": True,
    }  # fmt: skip
    result = _dags_test(airflow_home, "feature_importance", conf)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    tags = mlflow.MlflowClient(mlflow_server).get_model_version(name, "1").tags
    assert tags[VersionTag.STATUS] == VersionStatus.COMPLETE
    assert set(tags[VersionTag.TOP_FEATURES].split(",")[:2]) == {"load", "temp"}


def test_a_two_output_model_runs_through_the_dag_per_output(airflow_home, mlflow_server, tmp_path):
    """A model with two heads, logged with plain MLflow beside its table: `airflow dags test`
    with both targets as a list Param computes each method per output (one compute job each)
    and tags the version per output."""
    from tests.test_outputs import FEATURES, _frame, two_heads

    name = f"two-heads-{uuid.uuid4().hex[:6]}"
    table = tmp_path / "evaluation.parquet"
    _frame().to_parquet(table)
    _log_with_table(mlflow_server, name, two_heads(), table)
    conf = {
        "model_name": name, "model_version": "1", "methods": ["permutation", "probe"],
        "target": ["churn", "price"], "feature_names": list(FEATURES), "tag_version": True,
    }  # fmt: skip
    result = _dags_test(airflow_home, "feature_importance", conf)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    tags = mlflow.MlflowClient(mlflow_server).get_model_version(name, "1").tags
    assert tags[VersionTag.STATUS] == VersionStatus.COMPLETE
    assert set(tags[output_tag(VersionTag.TOP_FEATURES, "churn")].split(",")[:2]) == {"c", "d"}
    assert set(tags[output_tag(VersionTag.TOP_FEATURES, "price")].split(",")[:2]) == {"a", "b"}


def _log_with_table(server: str, name: str, model, table, target: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """``model`` registered as ``name`` version 1 with plain MLflow, its run holding ``table``
    as the evaluation dataset (and a ``target`` param when given)."""
    import pandas as pd

    mlflow.set_tracking_uri(server)
    mlflow.set_registry_uri(server)
    mlflow.set_experiment(name)
    with mlflow.start_run():
        if target:
            mlflow.log_param("target", target)
        dataset = mlflow.data.from_pandas(pd.read_parquet(table), source=str(table))
        mlflow.log_input(dataset, context="evaluation")
        mlflow.tensorflow.log_model(
            model, name="model", registered_model_name=name, pip_requirements=["tensorflow"]
        )
