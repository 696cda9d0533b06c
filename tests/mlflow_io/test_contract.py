"""The MLflow contract, read back from a real tracking server."""

from __future__ import annotations

import json
import uuid

import mlflow
import pytest

from importance_tasks import contract
from importance_tasks.config import DEFAULT_METHODS
from importance_tasks.contract import JobStatus, VersionStatus, VersionTag
from importance_tasks.ranking.ranks import agreement
from importance_tasks.stage import aggregate, publish
from tests.conftest import register_friedman
from tests.stage_steps import analyze, compute_method, plan_analysis

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("session_mlflow_server")]
METHODS = DEFAULT_METHODS


def _read_artifact(client, run_id, path):
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path)
    with open(local) as handle:
        return handle.read()


@pytest.fixture(scope="module")
def analysed(friedman, mlflow_server):
    name = f"friedman-{uuid.uuid4().hex[:6]}"
    version = register_friedman(friedman, mlflow_server, name)
    plan, analysis = analyze(f"models:/{name}@champion", seed=0, experiment="contract")
    return name, version, plan, analysis


def test_every_metric_artifact_and_tag_of_the_contract(analysed, friedman, mlflow_server):
    name, version, plan, analysis = analysed
    client = mlflow.MlflowClient(mlflow_server)
    assert plan.model.version == version and plan.model.alias == "champion"
    assert plan.data_uri.endswith("evaluation.parquet")  # found from the model's run
    run = client.get_run(plan.run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "contract"
    features = friedman.data.feature_names
    metrics = run.data.metrics
    for method in METHODS:
        for feature in features:
            for prefix in ("importance", "importance_std", "rank"):
                assert f"{prefix}/{method}/{feature}" in metrics
    for feature in features:
        assert (
            metrics[f"rank/consensus/{feature}"] == analysis.consensus.rank[features.index(feature)]
        )
    expected_w = agreement(list(analysis.results.values())).kendall_w
    assert metrics["agreement/kendall_w"] == pytest.approx(expected_w)
    params = run.data.params
    assert params["model_name"] == name and params["model_version"] == version
    assert params["data_digest"] == plan.data_digest and params["methods"] == ",".join(METHODS)
    assert "keras" in json.loads(params["package_versions"])
    paths = {a.path for a in client.list_artifacts(plan.run_id, "importance")}
    expected = {path(m) for m in METHODS for path in (contract.result_path, contract.table_path)}
    expected |= {contract.RANKINGS_TABLE, contract.REPORT, contract.MANIFEST}
    assert expected <= paths
    manifest = json.loads(_read_artifact(client, plan.run_id, contract.MANIFEST))
    assert manifest["complete"] is True and manifest["methods"] == list(METHODS)
    assert contract.RANKINGS_TABLE in manifest["artifacts"]
    rankings = _read_artifact(client, plan.run_id, contract.RANKINGS_TABLE).splitlines()
    assert rankings[0] == (
        "feature,consensus_rank,rank_low,rank_high,p_top_5,shown_rank,tied,mean_rank,"
        + ",".join(f"{m},{m}_interval" for m in METHODS)
    )
    assert {line.split(",")[0] for line in rankings[1:6]} == {f"x{i}" for i in range(5)}
    tags = client.get_model_version(name, version).tags
    assert tags[VersionTag.RUN_ID] == plan.run_id
    assert tags[VersionTag.STATUS] == VersionStatus.COMPLETE
    assert set(tags[VersionTag.TOP_FEATURES].split(",")) == {f"x{i}" for i in range(5)}
    assert tags[VersionTag.CONFIG] == plan.requested_digest == plan.config.digest()
    logged_model = mlflow.get_logged_model(plan.model.model_id)
    assert any(
        m.key == contract.metric_key(contract.Metric.IMPORTANCE, "permutation", "x0")
        for m in logged_model.metrics or []
    )


def test_second_identical_analysis_reuses_the_run(analysed, mlflow_server):
    name, _, plan, analysis = analysed
    again, analysis_again = analyze(f"models:/{name}@champion", seed=0, experiment="contract")
    assert again.run_id == plan.run_id and again.complete
    assert analysis_again.as_dict() == analysis.as_dict()
    client = mlflow.MlflowClient(mlflow_server)
    for key in client.get_run(plan.run_id).data.metrics:
        assert len(client.get_metric_history(plan.run_id, key)) == 1, key
    runs = client.search_runs(
        [client.get_experiment_by_name("contract").experiment_id],
        filter_string=f"tags.`importance.key` = '{plan.key}'",
    )
    assert len(runs) == 1


def test_other_settings_make_another_run(analysed):
    name, _, plan, _ = analysed
    other = plan_analysis(
        f"models:/{name}@champion", seed=1, methods=["weights"], experiment="contract"
    )
    assert other.run_id != plan.run_id and not other.complete


def test_interrupted_analysis_is_finished_in_the_same_run(friedman, mlflow_server):
    name = f"retry-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, mlflow_server, name, flavor="keras")
    first = plan_analysis(f"{name}@champion", methods=["permutation", "probe"], experiment="retry")
    assert compute_method(first, "permutation").status == JobStatus.DONE
    # The task dies here; a retry plans again and finds the same run.
    second = plan_analysis(f"{name}@champion", methods=["permutation", "probe"], experiment="retry")
    assert second.run_id == first.run_id and not second.complete
    assert compute_method(second, "permutation").status == JobStatus.REUSED
    assert compute_method(second, "probe").status == JobStatus.DONE
    aggregate(second)
    aggregate(second)  # a retried aggregate adds no history
    assert publish(second).status == VersionStatus.COMPLETE
    client = mlflow.MlflowClient(mlflow_server)
    for key in client.get_run(second.run_id).data.metrics:
        assert len(client.get_metric_history(second.run_id, key)) == 1, key


def test_comparison_with_the_previous_version(friedman, mlflow_server):
    name = f"versions-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, mlflow_server, name)
    analyze(f"{name}/1", methods=["permutation"], experiment="versions")
    register_friedman(friedman, mlflow_server, name)
    plan, _ = analyze(f"{name}/2", methods=["permutation"], experiment="versions")
    client = mlflow.MlflowClient(mlflow_server)
    metrics = client.get_run(plan.run_id).data.metrics
    assert metrics["comparison/previous_version"] == 1.0
    assert metrics["comparison/spearman"] == pytest.approx(1.0)  # same model, same data, same seed
    comparison = json.loads(_read_artifact(client, plan.run_id, contract.COMPARISON))
    assert comparison["previous_version"] == "1" and comparison["movers"] == []


def test_cli_log_writes_run_id_and_version(friedman, mlflow_server, tmp_path, capsys):
    from importance_tasks.cli.commands import main

    name = f"cli-{uuid.uuid4().hex[:6]}"
    version = register_friedman(friedman, mlflow_server, name)
    out = tmp_path / "r.json"
    code = main(
        [
            "explain",
            "--model",
            f"models:/{name}@champion",
            "--tracking-uri",
            mlflow_server,
            "--log",
            "--methods",
            "permutation,weights",
            "--json",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    payload = json.loads(out.read_text())
    assert payload["model_version"] == version
    run = mlflow.MlflowClient(mlflow_server).get_run(payload["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.metrics[
        contract.metric_key(contract.Metric.IMPORTANCE, "weights", "x0")
    ] == pytest.approx(payload["methods"]["weights"]["importance"]["x0"])
    assert (
        main(
            ["explain", "--model", f"models:/{name}@nope", "--tracking-uri", mlflow_server, "--log"]
        )
        == 2
    )
    assert "has no alias 'nope'" in capsys.readouterr().err


def test_metric_keys_keep_mlflow_happy():
    from importance_tasks.contract import metric_key

    assert metric_key("importance", "permutation", "a/b (%)") == "importance/permutation/a_b ___"
