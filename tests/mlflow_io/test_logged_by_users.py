"""Models and data registered the way teams do it, with MLflow's own calls and none of ours,
against a real MLflow server: every way MLflow 3.17 lets a Keras model be logged loads, the
feature names are found where MLflow keeps them, the data where the run logged it, and what
cannot be checked is refused with one line and the version tagged."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from importance_tasks import contract
from importance_tasks.cli.commands import main
from importance_tasks.config import AnalysisConfig
from importance_tasks.contract import AuditStatus, VersionStatus, VersionTag, output_tag
from importance_tasks.errors import DataError, NeedsDataError
from importance_tasks.mlflow_io.registry import model_id_of
from importance_tasks.mlflow_io.version_tags import VersionTags
from importance_tasks.stage import aggregate, jobs, load_inputs, plan, publish, run_stage
from tests.conftest import FRIEDMAN_FEATURES, friedman_frame

pytestmark = pytest.mark.integration

PIP = ["tensorflow"]  # explicit, so log_model does not spend seconds inferring requirements
FAST = AnalysisConfig(methods=("permutation", "probe"), n_repeats=2)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _latest(client: mlflow.MlflowClient, name: str) -> str:
    return str(max(int(v.version) for v in client.search_model_versions(f"name = '{name}'")))


def _register(server: str, name: str, log) -> str:  # type: ignore[no-untyped-def]
    """Run ``log`` inside a fresh run of its own experiment (datasets are shared by digest
    within an experiment) and set the alias champion on the version it registered."""
    mlflow.set_tracking_uri(server)
    mlflow.set_registry_uri(server)  # not the registry of an earlier test's server
    mlflow.set_experiment(name)
    with mlflow.start_run():
        log()
    client = mlflow.MlflowClient(server)
    version = _latest(client, name)
    client.set_registered_model_alias(name, "champion", version)
    return version


def _log_model(flavor, friedman, name: str, **extra) -> None:  # type: ignore[no-untyped-def]
    """The Friedman model logged and registered as ``name`` with ``flavor``'s own log_model
    (as a LoggedModel named ``model``, unless ``artifact_path`` is given)."""
    where = {} if "artifact_path" in extra else {"name": "model"}
    flavor.log_model(
        friedman.model.keras_model,
        registered_model_name=name,
        pip_requirements=PIP,
        **where,
        **extra,
    )


def _register_with_table(server: str, name: str, model, table, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """``model`` logged with mlflow.tensorflow and registered as ``name``, its run holding
    ``table`` (a long table of steps, target ``y``) as its evaluation dataset."""
    path = tmp_path / f"{name}.parquet"
    table.to_parquet(path)

    def log() -> None:
        mlflow.log_param("target", "y")
        dataset = mlflow.data.from_pandas(pd.read_parquet(path), source=str(path))
        mlflow.log_input(dataset, context="evaluation")
        mlflow.tensorflow.log_model(
            model, name="model", registered_model_name=name, pip_requirements=PIP
        )

    return _register(server, name, log)


def _eval_file(tmp_path, friedman, name="evaluation.parquet") -> str:
    path = tmp_path / name
    friedman_frame(friedman.data).to_parquet(path)
    return str(path)


def _top5(analysis) -> set[str]:  # type: ignore[no-untyped-def]
    order = np.argsort(analysis.consensus.rank)[:5]
    return {analysis.consensus.features[i] for i in order}


def test_tensorflow_flavor_numpy_example_and_a_file_dataset(friedman, mlflow_server, tmp_path):
    """The issue's crash: a numpy input example (a list in input_example.json). The names
    come from the logged dataset's schema (target among them), the target from the run."""
    name = _name("np-example")
    frame = friedman_frame(friedman.data)
    path = _eval_file(tmp_path, friedman)
    X = friedman.data.X

    def log() -> None:
        mlflow.log_param("target", "y")
        mlflow.log_input(mlflow.data.from_pandas(frame, source=path), context="evaluation")
        _log_model(mlflow.tensorflow, friedman, name, input_example=X[:5])

    _register(mlflow_server, name, log)
    pinned, analyses = run_stage(f"{name}@champion", FAST, tracking_uri=mlflow_server)
    [analysis] = analyses.values()
    assert _top5(analysis) == set(FRIEDMAN_FEATURES[:5])
    assert pinned.feature_names_checked and pinned.data_uri == path
    assert "dataset 'dataset' (context evaluation" in pinned.data_source
    assert pinned.target_source.startswith("the 'target' param of run")
    params = mlflow.MlflowClient(mlflow_server).get_run(pinned.run_id).data.params
    assert params["feature_names_checked"] == "true"
    assert "schema of dataset" in params["feature_names_source"]
    assert params["data_source"] == pinned.data_source


def test_dataframe_example_with_a_tensor_signature_names_the_columns(
    friedman, mlflow_server, tmp_path
):
    """mlflow.tensorflow takes a DataFrame example only with an explicit tensor signature;
    its input_example.json is a split-orient table, whose columns are the names. The target
    is then the one column of the table no input takes."""
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    name = _name("df-example")
    features = friedman_frame(friedman.data).drop(columns="y")
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 10))]),
        outputs=Schema([TensorSpec(np.dtype("float32"), (-1, 1))]),
    )
    path = _eval_file(tmp_path, friedman)

    def log() -> None:
        _log_model(
            mlflow.tensorflow, friedman, name, input_example=features.head(3), signature=signature
        )

    _register(mlflow_server, name, log)
    # The same table with its columns reversed: matched by name, not by position.
    reversed_path = tmp_path / "reversed.parquet"
    frame = pd.read_parquet(path)
    frame[list(reversed(frame.columns))].to_parquet(reversed_path)
    pinned, analyses = run_stage(
        f"{name}@champion", FAST, tracking_uri=mlflow_server, data_uri=str(reversed_path)
    )
    [analysis] = analyses.values()
    assert pinned.target == "y" and pinned.target_source.startswith("the one column")
    assert pinned.feature_names_checked
    assert _top5(analysis) == set(FRIEDMAN_FEATURES[:5])
    # A misspelled column is refused, naming it.
    frame.rename(columns={"x3": "x_3"}).to_parquet(tmp_path / "typo.parquet")
    with pytest.raises(DataError, match=r"missing \['x3'\], unexpected \['x_3'\]"):
        plan(
            f"{name}@champion",
            FAST,
            tracking_uri=mlflow_server,
            data_uri=str(tmp_path / "typo.parquet"),
            target="y",
        )


def test_keras_flavor_artifact_path_and_a_training_dataset_schema(
    friedman, mlflow_server, tmp_path
):
    """mlflow.keras with ``artifact_path`` and no example; the training run logged its
    features (no target) as a dataset: their schema names the inputs, and the evaluation table,
    an artifact with a conventional name, has one column more: the target."""
    name = _name("keras-flavor")
    frame = friedman_frame(friedman.data)
    path = _eval_file(tmp_path, friedman)

    def log() -> None:
        training = frame.drop(columns="y")
        mlflow.log_input(mlflow.data.from_pandas(training, name="train"), context="training")
        mlflow.log_artifact(path)
        _log_model(mlflow.keras, friedman, name, artifact_path="model")

    _register(mlflow_server, name, log)
    client = mlflow.MlflowClient(mlflow_server)
    inputs = load_inputs(client, f"{name}@champion")
    assert inputs.source.target == "y" and inputs.source.names_checked
    assert inputs.source.data_source.startswith("artifact evaluation.parquet of run")
    assert "dataset 'train' (context training)" in inputs.source.names_source


def test_autologged_model_needs_names_then_runs_with_them(friedman, mlflow_server, tmp_path):
    """mlflow.keras.autolog logs the model and numpy datasets, which carry no column
    names: the stage refuses to guess (needs_data, tagged), and runs once feature_names is
    given; columns_in_model_order takes the table's order, recorded as unchecked."""
    import keras

    name = _name("autolog")
    frame = friedman_frame(friedman.data)
    path = _eval_file(tmp_path, friedman)
    model = keras.models.clone_model(friedman.model.keras_model)
    model.set_weights(friedman.model.keras_model.get_weights())
    model.compile(optimizer="adam", loss="mse")
    mlflow.set_tracking_uri(mlflow_server)
    mlflow.set_experiment(name)
    mlflow.keras.autolog(log_models=True, log_datasets=True)
    try:
        with mlflow.start_run() as run:
            model.fit(friedman.data.X[:200], friedman.data.y[:200], epochs=1, verbose=0)
            mlflow.log_param("target", "y")
    finally:
        mlflow.keras.autolog(disable=True)
    client = mlflow.MlflowClient(mlflow_server)
    logged = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    assert logged, "autolog logged no model"
    mlflow.register_model(f"models:/{logged[0].model_id}", name)
    version = _latest(client, name)
    with pytest.raises(NeedsDataError, match="nothing names the model's 10 input columns"):
        plan(f"{name}/{version}", FAST, tracking_uri=mlflow_server, data_uri=path)
    # An explicit data_uri that lacks names is the caller's choice, not the version's state.
    assert VersionTags.read(client, name, version).status is None
    with pytest.raises(NeedsDataError, match="no evaluation data"):
        plan(f"{name}/{version}", FAST, tracking_uri=mlflow_server)
    tags = client.get_model_version(name, version).tags
    assert tags[VersionTag.STATUS] == VersionStatus.NEEDS_DATA
    assert tags[VersionTag.REASON].startswith("no evaluation data")
    named = AnalysisConfig(
        methods=("permutation",), n_repeats=2, feature_names=list(reversed(FRIEDMAN_FEATURES))
    )
    frame[["y", *reversed(FRIEDMAN_FEATURES)]].to_parquet(tmp_path / "named.parquet")
    pinned, analyses = run_stage(
        f"{name}/{version}",
        named,
        tracking_uri=mlflow_server,
        data_uri=str(tmp_path / "named.parquet"),
    )
    [analysis] = analyses.values()
    assert pinned.feature_names_checked and analysis.consensus.features[0] == "x9"
    in_order = AnalysisConfig(methods=("permutation",), n_repeats=2, columns_in_model_order=True)
    pinned = plan(f"{name}/{version}", in_order, tracking_uri=mlflow_server, data_uri=path)
    assert not pinned.feature_names_checked


def test_dataset_without_rows_is_named_and_the_cli_exits_2(friedman, mlflow_server, capsys):
    """mlflow.data.from_pandas with no source records the code that logged it, not the rows:
    the error names that dataset and what to log; the version says so in its tags."""
    name = _name("code-source")
    frame = friedman_frame(friedman.data)

    def log() -> None:
        mlflow.log_input(mlflow.data.from_pandas(frame, targets="y"), context="evaluation")
        _log_model(mlflow.keras, friedman, name)

    version = _register(mlflow_server, name, log)
    code = main(
        ["explain", "--model", f"models:/{name}@champion", "--tracking-uri", mlflow_server, "--log"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "has a 'code' source, which does not hold its rows" in err
    assert "dataset 'dataset' (context evaluation" in err and "Traceback" not in err
    client = mlflow.MlflowClient(mlflow_server)
    tags = client.get_model_version(name, version).tags
    assert tags[VersionTag.STATUS] == VersionStatus.NEEDS_DATA
    model_id = model_id_of(client.get_model_version(name, version))
    assert model_id is not None
    assert client.get_logged_model(model_id).tags[VersionTag.STATUS] == VersionStatus.NEEDS_DATA


def test_a_local_path_this_worker_cannot_read_is_named(friedman, mlflow_server):
    name = _name("laptop")
    frame = friedman_frame(friedman.data)
    laptop = "/home/someone/laptop/evaluation.parquet"

    def log() -> None:
        mlflow.log_input(mlflow.data.from_pandas(frame, source=laptop), context="evaluation")
        _log_model(mlflow.keras, friedman, name)

    _register(mlflow_server, name, log)
    with pytest.raises(NeedsDataError, match=f"points at {laptop}, which this worker cannot"):
        plan(f"{name}@champion", FAST, tracking_uri=mlflow_server)


def test_a_rerun_adds_nothing_and_ad_hoc_analyses_leave_the_tags(friedman, mlflow_server, tmp_path):
    """Against a server's SQL store: aggregate and publish again on a complete run (a DAG
    run repeated) pass and add no metric history; an analysis with other settings logs its
    own run and leaves the version's tags to the analysis of record."""
    name = _name("rerun")
    path = _eval_file(tmp_path, friedman)

    def log() -> None:
        mlflow.log_param("target", "y")
        mlflow.log_input(mlflow.data.from_pandas(friedman_frame(friedman.data), source=path))
        _log_model(mlflow.tensorflow, friedman, name)

    version = _register(mlflow_server, name, log)
    client = mlflow.MlflowClient(mlflow_server)
    record = AnalysisConfig(methods=("permutation", "probe", "weights"), n_repeats=2)
    first, _ = run_stage(f"{name}@champion", record, record=record, data_uri=path)
    again = plan(f"{name}@champion", record, data_uri=path)
    assert again.run_id == first.run_id and again.complete
    aggregate(again)
    publish(again)
    history = client.get_metric_history(first.run_id, "rank/consensus/x0")
    assert len(history) == 1
    tags = VersionTags.read(client, name, version)
    assert tags.run_id == first.run_id and tags.is_current(record.digest())
    ad_hoc = AnalysisConfig(methods=("probe",))
    other, _ = run_stage(f"{name}@champion", ad_hoc, record=record, data_uri=path)
    assert other.run_id != first.run_id and not other.tag_version
    assert VersionTags.read(client, name, version).run_id == first.run_id
    asked = AnalysisConfig(methods=("probe",), tag_version=True)
    chosen, _ = run_stage(f"{name}@champion", asked, record=record, data_uri=path)
    assert VersionTags.read(client, name, version).run_id == chosen.run_id


@pytest.mark.services
def test_a_rerun_against_a_postgresql_store_adds_nothing(friedman, postgres_databases, tmp_path):
    """The same: a server whose backend store is PostgreSQL (its unique constraints word the
    refusal differently), the analysis run twice and its aggregate and publish repeated."""
    from importance_tasks.cli.demo import stop_process_group
    from tests.conftest import start_mlflow_server

    process, uri = start_mlflow_server(
        tmp_path / "pg", backend_store_uri=postgres_databases("psycopg2")
    )
    try:
        name = _name("pg-rerun")
        path = _eval_file(tmp_path, friedman)

        def log() -> None:
            mlflow.log_param("target", "y")
            mlflow.log_input(
                mlflow.data.from_pandas(friedman_frame(friedman.data), source=path),
                context="evaluation",
            )
            _log_model(mlflow.tensorflow, friedman, name, input_example=friedman.data.X[:2])

        _register(uri, name, log)
        first, _ = run_stage(f"{name}@champion", FAST, record=FAST, tracking_uri=uri)
        again, _ = run_stage(f"{name}@champion", FAST, record=FAST, tracking_uri=uri)
        assert again.run_id == first.run_id and again.complete
        aggregate(again)
        publish(again)
        client = mlflow.MlflowClient(uri)
        assert len(client.get_metric_history(first.run_id, "rank/consensus/x0")) == 1
        model_id = first.model.model_id
        assert model_id is not None
        linked = client.get_logged_model(model_id).metrics
        assert sum(m.key == "rank/consensus/x0" for m in linked) == 1
    finally:
        stop_process_group(process)


def test_of_several_evaluation_datasets_the_readable_one_is_used_and_said(
    friedman, mlflow_server, tmp_path
):
    name = _name("several")
    frame = friedman_frame(friedman.data)
    path = _eval_file(tmp_path, friedman)

    def log() -> None:
        mlflow.log_param("target", "y")
        mlflow.log_input(mlflow.data.from_pandas(frame, name="notebook"), context="evaluation")
        held_out = mlflow.data.from_pandas(frame, source=path, name="held_out")
        mlflow.log_input(held_out, context="test")
        _log_model(mlflow.tensorflow, friedman, name, input_example=friedman.data.X[:2])

    _register(mlflow_server, name, log)
    inputs = load_inputs(mlflow.MlflowClient(mlflow_server), f"{name}@champion")
    described = inputs.source.data_source
    assert described.startswith("dataset 'held_out' (context test")
    assert "over dataset 'notebook' (context evaluation" in described
    assert "which does not hold its rows" in described and inputs.source.uri == path


def test_a_dataset_schema_of_another_width_names_nothing(friedman, mlflow_server, tmp_path):
    """The run logged a training table with an extra id column: its schema is not the model's
    inputs, so the stage does not take names from it and asks for them."""
    name = _name("wide-schema")
    frame = friedman_frame(friedman.data)
    path = _eval_file(tmp_path, friedman)

    def log() -> None:
        mlflow.log_param("target", "y")
        wide = frame.drop(columns="y").assign(row_id=range(len(frame)))
        mlflow.log_input(mlflow.data.from_pandas(wide, name="train"), context="training")
        _log_model(mlflow.keras, friedman, name)

    _register(mlflow_server, name, log)
    with pytest.raises(NeedsDataError, match=r"names 11 input columns .* another table"):
        plan(f"{name}@champion", FAST, tracking_uri=mlflow_server, data_uri=path)


def test_a_sequence_model_runs_in_the_stage_from_its_logged_long_table(mlflow_server, tmp_path):
    """A forecaster logged with plain MLflow and its evaluation table (one row per station and
    hour): the stage cuts the windows by the settings, ranks the variables, tags the version.
    Without the rows' order (time_column) it asks for it, before anything else."""
    from tests.test_windows import VARIABLES, _forecaster, _long_table

    name = _name("forecaster")
    version = _register_with_table(mlflow_server, name, _forecaster(), _long_table(), tmp_path)
    windows = {"time_column": "hour", "series_column": "station"}
    # The table's rows are shuffled: their order is asked for before the column names.
    with pytest.raises(DataError, match=r"needs the order of its rows: give time_column"):
        plan(f"{name}@champion", FAST, tracking_uri=mlflow_server)
    config = AnalysisConfig(  # in row shards of 500 windows: 3 compute jobs per method
        methods=("permutation", "probe"), feature_names=VARIABLES, tag_version=True,
        shard_rows=500, **windows,
    )  # fmt: skip
    planned, analyses = run_stage(f"{name}@champion", config, tracking_uri=mlflow_server)
    [analysis] = analyses.values()
    assert planned.n_rows == 3 * (400 - 6 + 1)  # windows, not rows
    order = np.argsort(analysis.consensus.rank)
    assert {analysis.consensus.features[i] for i in order[:2]} == {"load", "temp"}
    tags = mlflow.MlflowClient(mlflow_server).get_model_version(name, version).tags
    assert tags[VersionTag.STATUS] == VersionStatus.COMPLETE
    assert set(tags[VersionTag.TOP_FEATURES].split(",")[:2]) == {"load", "temp"}
    # Each variable per step: in the result, its table and the report's heat map.
    # 3 row shards per method (the profile from each method's first shard), then the
    # interactions and effects
    assert len(jobs(planned)) == 7
    for method in ("permutation", "probe"):
        profile = analysis.results[method].diagnostics["by_step"]
        assert int(np.argmax(profile["load"])) == 5 and len(profile["temp"]) == 6, method
    artifacts = mlflow.MlflowClient(mlflow_server).list_artifacts(
        planned.run_id, os.path.dirname(contract.plot_path("x"))
    )
    assert contract.plot_path("permutation_by_step") in {a.path for a in artifacts}


def test_a_two_output_model_is_analysed_per_output_into_one_run(mlflow_server, tmp_path):
    """A model with two heads logged with mlflow.tensorflow and a table holding both targets:
    each output ranked by its own features, logged under its own name in one run (metrics
    importance/<output>/..., artifacts importance/<output>/, tags importance.<output>.*),
    read back per output, compared per output with the previous version, and audited."""
    from importance_tasks.mlflow_io.audit import audit_rows
    from importance_tasks.promotion import decide
    from tests.test_outputs import FEATURES, _frame, two_heads

    name = _name("two-heads")
    table = tmp_path / "evaluation.parquet"
    frame = _frame()
    frame.to_parquet(table)

    def log() -> None:
        mlflow.log_input(mlflow.data.from_pandas(frame, source=str(table)), context="evaluation")
        mlflow.tensorflow.log_model(
            two_heads(),
            name="model",
            registered_model_name=name,
            pip_requirements=PIP,
            input_example=frame[list(FEATURES)].head(3),
        )

    _register(mlflow_server, name, log)
    client = mlflow.MlflowClient(mlflow_server)
    config = AnalysisConfig(
        methods=("permutation", "probe"), n_repeats=2, feature_names=FEATURES, tag_version=True
    )
    # No target given or logged: the columns named like the model's two outputs.
    pinned, analyses = run_stage(f"{name}@champion", config, tracking_uri=mlflow_server)
    assert pinned.outputs == ("price", "churn") and list(analyses) == ["price", "churn"]
    assert pinned.target_source == "the columns named like the model's outputs"
    for output, own in (("price", {"a", "b"}), ("churn", {"c", "d"})):
        assert _top2(analyses[output]) == own, output
    metrics = client.get_run(pinned.run_id).data.metrics
    churn = {f: metrics[f"importance/churn/permutation/{f}"] for f in FEATURES}
    assert min(churn["c"], churn["d"]) > 10 * max(churn["a"], churn["b"], churn["e"])
    assert "rank/price/consensus/a" in metrics and "agreement/churn/kendall_w" in metrics
    assert not any(k.startswith("importance/permutation/") for k in metrics)
    listed = {a.path for a in client.list_artifacts(pinned.run_id, "importance/price")}
    assert {
        contract.scoped_path(contract.result_path("permutation"), "price"),
        contract.scoped_path(contract.CONSENSUS, "price"),
    } <= listed
    report = client.download_artifacts(pinned.run_id, contract.REPORT, str(tmp_path))
    html = Path(report).read_text()
    assert 'id="output-price"' in html and 'id="output-churn"' in html
    tags = client.get_model_version(name, "1").tags
    assert tags[VersionTag.STATUS] == VersionStatus.COMPLETE and VersionTag.TOP_FEATURES not in tags
    assert set(tags[output_tag(VersionTag.TOP_FEATURES, "churn")].split(",")[:2]) == {"c", "d"}
    assert tags[output_tag(VersionTag.TOP_RANKS, "price")].split(",")[0].split()[1] in {"a", "b"}
    # The data's digest covers every target: another churn column is another analysis.
    changed = frame.assign(churn=1 - frame["churn"])
    changed.to_parquet(tmp_path / "changed.parquet")
    other = plan(
        f"{name}@champion", config, tracking_uri=mlflow_server,
        data_uri=str(tmp_path / "changed.parquet"),
    )  # fmt: skip
    assert other.data_digest != pinned.data_digest and other.run_id != pinned.run_id
    # A second version: each output compared with its own ranking of version 1.
    _register(mlflow_server, name, log)
    second, _ = run_stage(f"{name}/2", config, tracking_uri=mlflow_server)
    summary = publish(second)
    assert set(summary.outputs) == {"price", "churn"} and summary.drifted is False
    assert summary.top_features[0].split("/")[0] == "price"
    tags = client.get_model_version(name, "2").tags
    assert (
        tags[output_tag(VersionTag.DRIFT, "price")].endswith("ok")
        and output_tag(VersionTag.DRIFT, "churn") in tags
    )
    [row] = audit_rows(client, [(name, "2")], set(), config.digest())
    assert (
        row.drifted == "no"
        and row.status == AuditStatus.UP_TO_DATE
        and "churn: " in row.top_features
    )
    decision = decide(summary)
    assert decision.action == "ask" and decision.reasons == ("no sanity check was run",)


def _top2(analysis) -> set[str]:  # type: ignore[no-untyped-def]
    order = np.argsort(analysis.consensus.rank)[:2]
    return {analysis.consensus.features[i] for i in order}


def test_a_window_input_beside_named_columns_runs_in_the_stage(mlflow_server, tmp_path):
    """A dict model mixing a history window with a number and a string column, logged with
    plain MLflow beside its long table: its variables are the table's columns no other input
    takes, the others are read at each window's last row."""
    from tests.test_windows import STEPS, _history_and_columns, _stations_with_columns

    name = _name("history")
    model, table = _history_and_columns(), _stations_with_columns()
    _register_with_table(mlflow_server, name, model, table, tmp_path)
    config = AnalysisConfig(
        methods=("permutation", "probe"), time_column="hour", series_column="station"
    )
    planned, analyses = run_stage(f"{name}@champion", config, tracking_uri=mlflow_server)
    [analysis] = analyses.values()
    assert planned.n_rows == 3 * (300 - STEPS + 1) and planned.window_steps == STEPS
    assert set(analysis.consensus.features) == {"load", "temp", "noise", "size", "region"}
    for method, result in analysis.results.items():
        importance = dict(zip(result.features, result.mean, strict=True))
        assert importance["noise"] == pytest.approx(0.0, abs=1e-9), method
        assert len(result.diagnostics["by_step"]["temp"]) == STEPS, method
