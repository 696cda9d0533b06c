"""plan -> compute -> aggregate -> publish, step by step, against a real MLflow store: SQLite
and artifacts under a temporary folder, no server (the server is in the integration tests)."""

from __future__ import annotations

import functools
import json
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from importance_tasks import contract
from importance_tasks.analysis import explain
from importance_tasks.config import AnalysisConfig
from importance_tasks.contract import JobStatus, VersionStatus, VersionTag
from importance_tasks.errors import InputError
from importance_tasks.mlflow_io.analysis_run import AnalysisRun
from importance_tasks.mlflow_io.training import prepare_local_store, register_keras_model
from importance_tasks.mlflow_io.version_tags import VersionTags
from importance_tasks.stage import aggregate, compute, jobs, plan, publish
from tests.conftest import friedman_frame, register_friedman
from tests.precision import assert_within, importance_atol


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite MLflow store with its artifacts in a temporary folder."""
    return prepare_local_store(
        tmp_path_factory.mktemp("store"), experiments=("training", "importance", "steps")
    )


def _steps(pinned):
    summaries = [compute(pinned, job) for job in jobs(pinned)]
    aggregated = aggregate(pinned)
    return summaries, aggregated, publish(pinned)


def _json(uri: str, run_id: str, path: str):
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, tracking_uri=uri)
    with open(local) as handle:
        return json.load(handle)


def test_steps_log_the_whole_contract(store, friedman):
    name = f"steps-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, store, name)
    config = AnalysisConfig(methods=("permutation", "probe", "weights"), n_repeats=2)
    pinned = plan(f"{name}@champion", config, tracking_uri=store, experiment="steps")
    assert (pinned.model.name, pinned.model.version, pinned.model.alias) == (name, "1", "champion")
    summaries, aggregated, published = _steps(pinned)
    assert [s.status for s in summaries] == [JobStatus.DONE] * 4  # 3 methods, the steps
    client = mlflow.MlflowClient(store)
    paths = set(AnalysisRun(client, pinned.run_id).artifact_paths())
    for method in config.methods:
        written = {contract.result_path(method), contract.table_path(method)}
        assert written | {contract.plot_path(method)} <= paths
    aggregated_paths = {contract.CONSENSUS, contract.AGREEMENT, contract.RANKINGS_TABLE}
    assert aggregated_paths | {contract.plot_path("rank_heatmap")} <= paths
    assert {contract.REPORT, contract.MANIFEST} <= paths
    consensus = _json(store, pinned.run_id, contract.CONSENSUS)
    # weights, the naive baseline, is in the tables but not in the consensus by default
    assert consensus["methods"] == ["permutation", "probe"]
    assert "weights" in consensus["excluded"]
    top = sorted(consensus["rank"], key=consensus["rank"].get)[:5]
    assert set(top) == {f"x{i}" for i in range(5)} and published.top_features == top
    agreement = _json(store, pinned.run_id, contract.AGREEMENT)
    metrics = client.get_run(pinned.run_id).data.metrics
    assert metrics[contract.Metric.KENDALL_W] == pytest.approx(agreement["kendall_w"])
    assert set(agreement["rank_spread"]) == set(friedman.data.feature_names)
    tags = VersionTags.read(client, name, "1")
    assert tags.is_current(config.digest()) and tags.run_id == pinned.run_id
    assert aggregated.by_output[None].top_features == top
    # The interactions and effects of the top features, from the consensus of the methods:
    # Friedman #1's one interacting pair first; x3 (10 x3) and x4 (5 x4) rise.
    assert {contract.STEPS, contract.INTERACTIONS_TABLE, contract.EFFECTS_TABLE} <= paths
    assert {contract.plot_path("interactions"), contract.plot_path("effects")} <= paths
    steps = _json(store, pinned.run_id, contract.STEPS)
    assert set(steps["interactions"][0]["features"]) == {"x0", "x1"}
    assert steps["ranked_by"] == ["permutation", "probe"]
    a, b = steps["interactions"][0]["features"]
    strength = metrics[contract.metric_key(contract.Metric.INTERACTION, a, b)]
    assert strength == pytest.approx(steps["interactions"][0]["strength"])
    directions = client.get_model_version(name, "1").tags[VersionTag.DIRECTIONS]
    assert "x3 rises" in directions and "x4 rises" in directions
    # The report opens on what a reader came for, in sentences, before the wide tables.
    local = mlflow.artifacts.download_artifacts(
        run_id=pinned.run_id, artifact_path=contract.REPORT, tracking_uri=store
    )
    page = Path(local).read_text()
    first = page[: page.index("Consensus ranking")]
    assert "In short" in first and "Most important, in order:" in first
    assert "Acting together most:" in first and "x3 rises" in first
    assert "Barely used (negligible by every method): x5, x6, x7, x8, x9." in first
    assert '<div class="wide"><table>' in page


def test_plan_refuses_what_does_not_fit_before_opening_a_run(store, friedman):
    name = f"refused-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, store, name)
    with pytest.raises(InputError, match="scoring='log_loss' needs class probabilities"):
        plan(f"{name}/1", AnalysisConfig(scoring="log_loss"), tracking_uri=store, experiment=name)
    with pytest.raises(InputError, match="no version 7"):
        plan(f"{name}/7", AnalysisConfig(), tracking_uri=store, experiment=name)
    assert mlflow.MlflowClient(store).get_experiment_by_name(name) is None


def test_publish_reads_what_aggregate_logged(store, friedman):
    name = f"order-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, store, name)
    pinned = plan(
        f"{name}/1", AnalysisConfig(methods=("probe",)), tracking_uri=store, experiment="steps"
    )
    compute(pinned, jobs(pinned)[0])
    with pytest.raises(InputError, match="has not been aggregated"):
        publish(pinned)
    aggregate(pinned)
    assert publish(pinned).status == VersionStatus.COMPLETE


def test_a_method_that_cannot_run_is_recorded_with_its_reason(store, friedman):
    import keras

    inputs = keras.Input(shape=(10,))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.BatchNormalization()(inputs)))
    name = f"skip-{uuid.uuid4().hex[:6]}"
    register_keras_model(
        model, name=name, eval_frame=friedman_frame(friedman.data), target="y", tracking_uri=store
    )
    config = AnalysisConfig(methods=("probe", "weights"))
    pinned = plan(f"{name}/1", config, tracking_uri=store, experiment="steps")
    summaries, _, _ = _steps(pinned)
    assert [s.status for s in summaries] == [JobStatus.DONE, JobStatus.SKIPPED, JobStatus.DONE]
    skipped = _json(store, pinned.run_id, contract.skipped_path("weights"))
    assert "BatchNormalization" in skipped["reason"]
    manifest = _json(store, pinned.run_id, contract.MANIFEST)
    assert manifest["methods"] == ["probe"] and manifest["skipped"] == ["weights"]
    assert "BatchNormalization" in manifest["skip_reasons"]["weights"]


def test_sharded_sanity_check_gives_the_in_memory_verdict(store, friedman):
    """Shards computed as separate jobs (on the model and on its randomised copy) give the
    sanity verdict that the in-memory analysis gives, which computes the shards in one go."""
    name = f"sanity-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, store, name)
    config = AnalysisConfig(methods=("probe",), shard_rows=300, sanity_check=True, seed=2)
    pinned = plan(f"{name}/1", config, tracking_uri=store, experiment="steps")
    # 4 shards on the model, 4 on its randomised copy, then the interactions and effects
    assert len(jobs(pinned)) == 9
    _steps(pinned)
    logged = AnalysisRun(mlflow.MlflowClient(store), pinned.run_id).result("probe")
    in_memory = explain(friedman.model, friedman.data, config).results["probe"]
    data = friedman.data
    atol = importance_atol(friedman.model, data.X, data.y, in_memory.mean, scoring="mse")
    assert_within(logged.mean, in_memory.mean, atol)
    ours, theirs = logged.diagnostics["sanity"], in_memory.diagnostics["sanity"]
    assert ours["passed"] == theirs["passed"] and "spearman" in ours
    assert ours["spearman"] == pytest.approx(theirs["spearman"], abs=1e-9)
    assert logged.settings["n_shards"] == 4


def test_the_previous_version_is_compared(store, friedman):
    name = f"versions-{uuid.uuid4().hex[:6]}"
    config = AnalysisConfig(methods=("permutation",), n_repeats=2)
    for version in ("1", "2"):
        register_friedman(friedman, store, name)
        pinned = plan(f"{name}/{version}", config, tracking_uri=store, experiment="steps")
        _, aggregated, published = _steps(pinned)
    assert aggregated.by_output[None].previous_version == "1"
    assert published.previous_version == "1"
    metrics = mlflow.MlflowClient(store).get_run(pinned.run_id).data.metrics
    compared_key = functools.partial(contract.metric_key, contract.Metric.COMPARISON)
    assert metrics[compared_key("previous_version")] == 1.0
    assert metrics[compared_key("spearman")] == pytest.approx(1.0)  # same model, data, seed
    compared = _json(store, pinned.run_id, contract.COMPARISON)
    assert compared["previous_version"] == "1" and compared["movers"] == []
    assert np.isclose(compared["spearman"], metrics[compared_key("spearman")])


def test_a_registered_model_with_named_inputs(store):
    """A Keras structured-data model (one named input per column, Normalization inside),
    registered with its evaluation table in another column order, through every step."""
    from tests.test_model_inputs import DATA_ORDER, ROWS, _data, _named_model

    data = _data()
    frame = pd.DataFrame(data.X, columns=list(DATA_ORDER))
    frame["y"] = data.y
    name = f"named-{uuid.uuid4().hex[:6]}"
    register_keras_model(
        _named_model(), name=name, eval_frame=frame, target="y", tracking_uri=store
    )
    config = AnalysisConfig(methods=("permutation", "probe", "weights"), n_repeats=2)
    pinned = plan(f"{name}/1", config, tracking_uri=store, experiment="steps")
    summaries, _, published = _steps(pinned)
    statuses = [s.status for s in summaries]
    done, skipped = JobStatus.DONE, JobStatus.SKIPPED
    assert statuses == [done, done, skipped, done]  # weights: not a chain
    run = AnalysisRun(mlflow.MlflowClient(store), pinned.run_id)
    for method in ("permutation", "probe"):
        result = run.result(method)
        assert result.features == ROWS  # pair[0], pair[1]: one (None, 2) input, one row
        importance = dict(zip(result.features, result.mean, strict=True))
        assert importance["noise"] == pytest.approx(0.0, abs=1e-9) and importance["age"] > 0.1
    assert set(published.top_features[:3]) == {"age", "income", "pair"}
    assert pinned.settings["groups"] == {"pair": ["pair[0]", "pair[1]"]}  # logged, not hidden
