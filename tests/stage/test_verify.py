"""``verify``: a logged analysis computed again gives the same numbers; a changed metric or
changed data is named. And the analysis of record is the version's own data's."""

from __future__ import annotations

import json
import uuid

import mlflow
import pytest

from importance_tasks.cli.commands import main
from importance_tasks.config import AnalysisConfig
from importance_tasks.contract import MethodStatus, VersionTag
from importance_tasks.mlflow_io.training import prepare_local_store
from importance_tasks.stage import plan, run_stage
from importance_tasks.stage.verify import CannotVerifyError, verify
from tests.conftest import friedman_frame, register_friedman

METHODS = ("permutation", "shap", "lime", "sage", "integrated_gradients")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return prepare_local_store(tmp_path_factory.mktemp("verify"), experiments=("training",))


@pytest.fixture(scope="module")
def logged(store, friedman, tmp_path_factory):
    """A version analysed of record (its own logged data) with the sampling methods at their
    defaults, and a second analysis of the same version on a table given by path."""
    name = f"verify-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, store, name)
    config = AnalysisConfig(methods=METHODS, interactions=False, effects=False)
    pinned, _ = run_stage(f"{name}@champion", config, record=config, tracking_uri=store)
    table = tmp_path_factory.mktemp("tables") / "given.parquet"
    friedman_frame(friedman.data).iloc[:600].to_parquet(table)
    given, _ = run_stage(
        f"{name}@champion", config, record=config, tracking_uri=store, data_uri=str(table)
    )
    return name, pinned, given, table


def test_a_logged_analysis_computed_again_is_identical(store, logged, capsys, tmp_path):
    _, pinned, _, _ = logged
    found = verify(pinned.run_id, tracking_uri=store)
    assert found.identical, found.report()
    assert sorted(c.method for c in found.checks) == sorted(METHODS)
    out = tmp_path / "verdict.json"
    assert main(["verify", pinned.run_id, "--tracking-uri", store, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "shap: identical" in printed and "tolerance: 2e-05" in printed
    assert json.loads(out.read_text())["identical"] is True


def test_a_changed_metric_is_named(store, logged, capsys):
    _, _, given, _ = logged
    client = mlflow.MlflowClient(store)
    key = "importance/sage/x3"
    value = client.get_run(given.run_id).data.metrics[key]
    client.log_metric(given.run_id, key, value * 1.001 + 1e-9, step=1)
    found = verify(given.run_id, tracking_uri=store)
    differing = [c for c in found.checks if not c.identical]
    assert [c.method for c in differing] == ["sage"]
    assert "metric of x3" in differing[0].detail
    assert main(["verify", given.run_id, "--tracking-uri", store]) == 1
    assert "sage: DIFFERS" in capsys.readouterr().out


def test_changed_data_cannot_be_verified(store, friedman, tmp_path, capsys):
    name = f"verify-data-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, store, name)
    table = tmp_path / "eval.parquet"
    friedman_frame(friedman.data).iloc[:300].to_parquet(table)
    config = AnalysisConfig(methods=("probe",), interactions=False, effects=False)
    pinned, _ = run_stage(f"{name}@champion", config, tracking_uri=store, data_uri=str(table))
    friedman_frame(friedman.data).iloc[300:600].to_parquet(table)
    with pytest.raises(CannotVerifyError, match=f"digest .* the run analysed {pinned.data_digest}"):
        verify(pinned.run_id, tracking_uri=store)
    assert main(["verify", pinned.run_id, "--tracking-uri", store]) == 2
    assert "cannot verify: the data at" in capsys.readouterr().err
    table.unlink()
    assert main(["verify", pinned.run_id, "--tracking-uri", store]) == 2


def test_another_table_leaves_the_versions_tags(store, logged, friedman):
    """The version logged its evaluation data: only that data (same digest) with the
    configuration of record tags it; another table is ad hoc unless tag_version asks."""
    name, pinned, given, table = logged
    assert pinned.tag_version and not given.tag_version
    assert "is not the evaluation data the version logged" in given.untagged
    tags = mlflow.MlflowClient(store).get_model_version(name, "1").tags
    assert tags[VersionTag.RUN_ID] == pinned.run_id
    asked = AnalysisConfig(methods=METHODS, interactions=False, effects=False, tag_version=True)
    assert plan(f"{name}@champion", asked, tracking_uri=store, data_uri=str(table)).tag_version
    own = mlflow.artifacts.download_artifacts(
        run_id=pinned.model.run_id, artifact_path="evaluation.parquet", tracking_uri=store
    )
    of_record = AnalysisConfig(methods=METHODS, interactions=False, effects=False)
    same = plan(f"{name}@champion", of_record, tracking_uri=store, data_uri=own)
    assert same.data_digest == pinned.data_digest and same.tag_version


def test_the_command_line_gives_the_logged_numbers(store, logged, tmp_path):
    """The same version, data, settings and seed from another path (the command line, in
    memory, nothing logged): the logged run's numbers, method by method."""
    from importance_tasks.stage import read_logged_outputs

    name, pinned, _, _ = logged
    out = tmp_path / "cli.json"
    args = ["explain", "--model", f"models:/{name}@champion", "--tracking-uri", store]
    args += ["--methods", ",".join(METHODS), "--no-interactions", "--no-effects"]
    assert main([*args, "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    [analysis] = read_logged_outputs(store, pinned.run_id).values()
    for method, result in analysis.results.items():
        ours = payload["methods"][method]
        assert ours["status"] == result.status == MethodStatus.COMPLETE
        values = [ours["importance"][f] for f in result.features]
        assert max(abs(a - b) for a, b in zip(values, result.mean, strict=True)) <= (
            2e-5 * max(abs(result.mean))
        ), method
