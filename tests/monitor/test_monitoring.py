"""``stage.monitoring.watch_window`` on a SQLite MLflow store: a model with two outputs is
watched per output; a window with its targets is analysed by loss beside the output; a window
not there yet is worth waiting for, one that does not fit the model is refused; only the
``importance.monitor.*`` tags are set."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest

from importance_tasks.contract import Monitor, MonitorStatus
from importance_tasks.errors import DataError, DataNotReadyError, InputError, is_retryable
from importance_tasks.mlflow_io.client import connect
from importance_tasks.mlflow_io.model_ref import ModelSpec
from importance_tasks.mlflow_io.training import prepare_local_store
from importance_tasks.stage.monitoring import MonitorSettings, watch_window
from tests.test_outputs import FEATURES, _frame, two_heads


@pytest.fixture(scope="module")
def heads(tmp_path_factory):
    folder = tmp_path_factory.mktemp("monitoring")
    uri = prepare_local_store(folder, experiments=("training", Monitor.EXPERIMENT))
    # Logged the way a team does by hand: the table as an artifact, its targets as a param.
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment("training")
    with mlflow.start_run():
        _frame(2000, seed=0).to_parquet(folder / "evaluation.parquet")
        mlflow.log_artifact(str(folder / "evaluation.parquet"))
        mlflow.log_params({"target": "price,churn", "feature_names": json.dumps(FEATURES)})
        info = mlflow.keras.log_model(
            two_heads(), name="model", registered_model_name="heads", pip_requirements=["keras"]
        )
    version = str(info.registered_model_version)
    mlflow.MlflowClient(uri).set_registered_model_alias("heads", "champion", version)
    return uri, version, folder


def _watch(uri: str, path, ds: str, **settings):
    return watch_window(
        connect(uri), ModelSpec("heads", alias="champion"), ds=ds, data_uri=str(path),
        settings=MonitorSettings(**settings),
    )  # fmt: skip


def test_two_outputs_are_watched_each_and_a_labelled_window_by_loss_too(heads):
    uri, version, folder = heads
    client = mlflow.MlflowClient(uri)
    before = client.get_model_version("heads", version).tags
    _frame(3000, seed=1).to_parquet(folder / "labelled.parquet")  # with price and churn
    quiet = _watch(uri, folder / "labelled.parquet", "2026-02-01")
    assert quiet.status == MonitorStatus.OK and quiet.modes == ("output", "loss")
    partly = _frame(3000, seed=4)  # labels arriving late: some rows' target is empty
    partly.loc[::2, "churn"] = np.nan
    partly.to_parquet(folder / "partly.parquet")
    assert _watch(uri, folder / "partly.parquet", "2026-01-31").modes == ("output",)
    window = _frame(3000, seed=2).drop(columns=["price", "churn"])
    window["c"] = 0.25  # churn's driver held constant; price does not use it
    window.to_parquet(folder / "unlabelled.parquet")
    drift = _watch(uri, folder / "unlabelled.parquet", "2026-02-02")
    assert drift.status == MonitorStatus.DRIFT and drift.modes == ("output",)
    assert "churn:c" in drift.drifted and not any(d.startswith("price:") for d in drift.drifted)
    assert drift.data_drift == ("c",)
    tags = client.get_model_version("heads", version).tags
    assert tags[Monitor.STATUS] == "drift" and tags[Monitor.WINDOW] == "2026-02-02"
    assert {k: v for k, v in tags.items() if not k.startswith(Monitor.TAG_PREFIX)} == before
    run = client.get_run(drift.run_id)
    assert {"monitor/price/a", "monitor/churn/c", "monitor/churn/ndcg"} <= set(run.data.metrics)
    local = mlflow.artifacts.download_artifacts(
        run_id=drift.run_id, artifact_path=Monitor.window_path("2026-02-01"), tracking_uri=uri
    )
    with open(local) as file:
        record = json.load(file)
    assert list(record["outputs"]) == ["price", "churn"] and record["modes"] == ["output", "loss"]
    price = record["outputs"]["price"]
    assert set(price["importance"]) == set(FEATURES) and "loss" in price
    top = max(price["importance"], key=price["importance"].get)
    assert top == "a"  # price = 2a - b
    report = mlflow.artifacts.download_artifacts(
        run_id=drift.run_id, artifact_path=Monitor.REPORT, tracking_uri=uri
    )
    with open(report) as file:
        page = file.read()
    # The last window first, then a trend chart per top feature of each output.
    assert page.index("Window 2026-02-02: importance drift") < page.index("<img")
    assert 'alt="c"' in page and "<h3>price</h3>" in page and "<h3>churn</h3>" in page
    # One monitoring run for the version: the second window read the baseline logged once.
    assert quiet.run_id == drift.run_id


def test_a_missing_window_is_waited_for_and_a_wrong_one_refused(heads):
    uri, _, folder = heads
    with pytest.raises(DataNotReadyError, match="no data for window 2026-03-01") as waited:
        _watch(uri, folder / "not-yet.parquet", "2026-03-01")
    assert is_retryable(waited.value)
    _frame(500, seed=3).drop(columns=["e", "price", "churn"]).to_parquet(folder / "narrow.parquet")
    with pytest.raises(DataError, match="missing") as refused:
        _watch(uri, folder / "narrow.parquet", "2026-03-02")
    assert not is_retryable(refused.value)
    with pytest.raises(InputError, match="not a date"):
        _watch(uri, folder / "narrow.parquet", "yesterday")
    with pytest.raises(InputError, match="materiality"):
        MonitorSettings(materiality=1.5)
    assert np.isclose(MonitorSettings().alpha, 0.05)
