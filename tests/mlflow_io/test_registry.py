"""Resolving, loading and finding data through a real MLflow server; refusals included."""

from __future__ import annotations

import time
import uuid
from typing import Any

import mlflow
import numpy as np
import pytest

from importance_tasks.errors import (
    DataError,
    RegistryError,
    ServiceUnavailableError,
    UnsafeModelError,
)
from importance_tasks.mlflow_io.client import connect
from importance_tasks.mlflow_io.model_ref import ModelSpec
from importance_tasks.mlflow_io.registry import fetch_model, resolve_model
from importance_tasks.stage import load_inputs
from tests.conftest import friedman_frame, register_friedman
from tests.mixed_models import mixed_frame, mixed_model
from tests.stage_steps import analyze

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("session_mlflow_server")]


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("m@champion", ("m", "champion", None)),
        ("models:/m@prod", ("m", "prod", None)),
        ("m/3", ("m", None, "3")),
        ("models:/team/m/12", ("team/m", None, "12")),
    ],
)
def test_parse_model_spec(spec, expected):
    name, alias, version = expected
    parsed = ModelSpec.parse(spec)
    assert parsed == ModelSpec(name, alias=alias, version=version)
    assert ModelSpec.parse(str(parsed)) == parsed


@pytest.mark.parametrize("spec", ["m", "m@", "models:/m/latest", "@a"])
def test_parse_model_spec_refuses_unpinned(spec):
    with pytest.raises(RegistryError, match="NAME@ALIAS, NAME/VERSION"):
        ModelSpec.parse(spec)


@pytest.fixture(scope="module")
def registered(friedman, mlflow_server):
    name = f"reg-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, mlflow_server, name)
    return name


def test_missing_model_alias_and_version_list_what_exists(registered, mlflow_server):
    client = connect(mlflow_server)
    with pytest.raises(
        RegistryError, match=rf"no registered model named .*did you mean \['{registered}'\]"
    ):
        resolve_model(client, f"{registered}x@champion")
    with pytest.raises(
        RegistryError, match=r"has no alias 'prod'; its aliases are \{'champion': '1'\}"
    ):
        resolve_model(client, f"{registered}@prod")
    with pytest.raises(RegistryError, match=r"has no version 9; its versions are \['1'\]"):
        resolve_model(client, f"{registered}/9")


def test_shuffled_columns_are_taken_by_name_not_another_ranking(registered, friedman, tmp_path):
    frame = friedman_frame(friedman.data)
    shuffled = frame[["x1", "x0", *[f"x{i}" for i in range(2, 10)], "y"]]
    shuffled.to_parquet(tmp_path / "shuffled.parquet")
    inputs = load_inputs(
        connect(None),
        f"{registered}@champion",
        data_uri=str(tmp_path / "shuffled.parquet"),
        target="y",
    )
    assert inputs.data.feature_names == friedman.data.feature_names
    np.testing.assert_array_equal(inputs.data.X, friedman.data.X.astype(np.float32))
    assert inputs.source.names_checked
    frame.drop(columns="x3").to_csv(tmp_path / "missing.csv", index=False)
    with pytest.raises(DataError, match=r"missing \['x3'\]"):
        load_inputs(
            connect(None),
            f"{registered}@champion",
            data_uri=str(tmp_path / "missing.csv"),
            target="y",
        )


def test_explicit_runs_uri_and_target(registered, friedman, mlflow_server):
    client = connect(mlflow_server)
    ref = resolve_model(client, f"{registered}@champion")
    inputs = load_inputs(
        client, f"{registered}/1", data_uri=f"runs:/{ref.run_id}/evaluation.parquet", target="y"
    )
    assert inputs.data.feature_names == friedman.data.feature_names
    assert inputs.loaded.model.n_features == 10
    with pytest.raises(DataError, match=r"target column\(s\) \['nope'\]"):
        load_inputs(client, f"{registered}/1", target="nope")
    with pytest.raises(DataError, match="not found"):
        load_inputs(
            client, f"{registered}/1", data_uri=f"runs:/{ref.run_id}/none.parquet", target="y"
        )


def test_lambda_model_is_refused_before_its_code_runs(mlflow_server, tmp_path):
    import keras

    marker = tmp_path / "marker.txt"
    # A Python lambda is stored as bytecode in the file; this one writes the marker when run.
    touch = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), x)[1]")

    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Lambda(touch)(inputs)))
    name = f"lambda-{uuid.uuid4().hex[:6]}"
    mlflow.set_tracking_uri(mlflow_server)
    with mlflow.start_run():
        mlflow.keras.log_model(
            model, name="model", registered_model_name=name, pip_requirements=["keras"]
        )
    model.save(tmp_path / "lambda.keras")
    marker.unlink()  # building the model ran the function once
    client = connect(mlflow_server)
    with pytest.raises(UnsafeModelError, match="Lambda layer, which runs code"):
        fetch_model(client, resolve_model(client, f"{name}/1"))
    assert not marker.exists()
    # The refusal matters: loading the same file without safe mode runs the code.
    keras.saving.load_model(tmp_path / "lambda.keras", safe_mode=False)
    assert marker.exists()


def test_non_keras_model_needs_trust_and_gets_model_agnostic_methods(friedman, mlflow_server):
    from sklearn.linear_model import LinearRegression

    data = friedman.data
    name = f"sk-{uuid.uuid4().hex[:6]}"
    mlflow.set_tracking_uri(mlflow_server)
    frame = friedman_frame(data)
    with mlflow.start_run():
        mlflow.log_params({"target": "y"})
        mlflow.log_table(frame, "evaluation.json")
        mlflow.sklearn.log_model(
            LinearRegression().fit(frame.drop(columns="y"), data.y),
            name="model",
            registered_model_name=name,
            input_example=frame.drop(columns="y").head(2),
            pip_requirements=["scikit-learn"],
        )
    client = connect(mlflow_server)
    with pytest.raises(UnsafeModelError, match=r"not a Keras model.*trust_pyfunc"):
        fetch_model(client, resolve_model(client, f"{name}/1"))
    ref = resolve_model(client, f"{name}/1")
    loaded = fetch_model(client, ref, trust_pyfunc=True)
    assert loaded.feature_names is not None
    assert loaded.feature_names.names == data.feature_names  # named in the signature
    frame.to_parquet(loaded.local_dir.parent / "eval.parquet")
    _plan, analysis = analyze(
        f"{name}/1",
        data_uri=str(loaded.local_dir.parent / "eval.parquet"),
        target="y",
        trust_pyfunc=True,
        methods=["permutation", "weights"],
        experiment="pyfunc",
    )
    assert list(analysis.results) == ["permutation"] and "weights" in analysis.skipped
    mean = analysis.results["permutation"].mean
    # A linear fit of Friedman #1 uses x3 most and cannot use x2 (a symmetric parabola):
    assert int(np.argmax(mean)) == 3
    assert min(mean[[0, 1, 3, 4]]) > max(mean[5:])


def test_unreachable_server_fails_fast_with_a_clear_error():
    start = time.monotonic()
    with pytest.raises(ServiceUnavailableError, match="cannot be reached"):
        connect("http://127.0.0.1:9")
    assert time.monotonic() - start < 10


class _MarkerModel(mlflow.pyfunc.PythonModel):
    """A pickled pyfunc model whose loading writes a marker file (it could do anything)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def load_context(self, context):
        with open(self.marker, "w") as handle:
            handle.write("ran")

    def predict(self, context: Any, model_input: list[float], params: Any = None) -> list[float]:
        return list(model_input)  # type hints: MLflow asks every PythonModel for them


def test_pickled_pyfunc_model_is_not_unpickled_without_trust(mlflow_server, tmp_path):
    marker = tmp_path / "marker"
    name = f"pickled-{uuid.uuid4().hex[:6]}"
    mlflow.set_tracking_uri(mlflow_server)
    with mlflow.start_run():
        mlflow.pyfunc.log_model(
            name="model", python_model=_MarkerModel(str(marker)), registered_model_name=name
        )
    marker.unlink(missing_ok=True)  # logging may load the model once to check it
    client = connect(mlflow_server)
    with pytest.raises(UnsafeModelError, match="trust_pyfunc"):
        fetch_model(client, resolve_model(client, f"{name}/1"))
    assert not marker.exists()
    mlflow.pyfunc.load_model(f"models:/{name}/1")  # what trust_pyfunc=True would do
    assert marker.exists()


@pytest.mark.parametrize("flavor", ["keras", "tensorflow"])
def test_dict_input_models_load_with_their_string_columns(mlflow_server, flavor):
    """Both flavors; the data's columns in another order than the model's inputs, and a
    signature of named tensors in a third order: named inputs take their columns by name."""
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    from importance_tasks.mlflow_io.training import register_keras_model

    frame = mixed_frame(300)
    name = f"mixed-{flavor}-{uuid.uuid4().hex[:6]}"
    version = register_keras_model(
        mixed_model(), name=name, eval_frame=frame, target="y", tracking_uri=mlflow_server,
        flavor=flavor,
    )  # fmt: skip
    inputs = load_inputs(connect(mlflow_server), f"{name}/{version}")
    assert inputs.loaded.flavor == flavor
    assert inputs.data.categories.keys() == {"city", "colour"}
    np.testing.assert_allclose(inputs.model.predict(inputs.data.X)[:, 0], frame["y"], atol=1e-5)

    features = frame.drop(columns="y")
    dtypes = {"city": object, "colour": object, "plan": np.int64}
    signature = ModelSignature(
        inputs=Schema(
            [TensorSpec(np.dtype(dtypes.get(c, np.float32)), (-1, 1), c) for c in sorted(features)]
        )
    )
    with mlflow.start_run():
        log = {"keras": mlflow.keras.log_model, "tensorflow": mlflow.tensorflow.log_model}[flavor]
        log(mixed_model(), name="model", signature=signature, registered_model_name=name,
            pip_requirements=["keras"])  # fmt: skip
    signed = load_inputs(
        connect(mlflow_server), f"{name}/{int(version) + 1}",
        data_uri=inputs.data_uri, target="y",
    )  # fmt: skip
    assert signed.loaded.feature_names is not None
    assert signed.loaded.feature_names.names == tuple(sorted(features.columns))
    np.testing.assert_array_equal(
        signed.model.predict(signed.data.X), inputs.model.predict(inputs.data.X)
    )


def test_a_dict_input_model_with_a_lambda_is_refused(mlflow_server):
    import keras

    city = keras.Input(shape=(1,), name="city", dtype="string")
    income = keras.Input(shape=(1,), name="income")
    lookup = keras.layers.StringLookup(vocabulary=["a", "b"], output_mode="one_hot")(city)
    joined = keras.layers.Lambda(lambda t: t * 2.0)(keras.layers.Concatenate()([lookup, income]))
    model = keras.Model({"city": city, "income": income}, keras.layers.Dense(1)(joined))
    name = f"lambda-dict-{uuid.uuid4().hex[:6]}"
    mlflow.set_tracking_uri(mlflow_server)
    with mlflow.start_run():
        mlflow.keras.log_model(
            model, name="model", registered_model_name=name, pip_requirements=["keras"]
        )
    client = connect(mlflow_server)
    with pytest.raises(UnsafeModelError, match="Lambda layer, which runs code"):
        fetch_model(client, resolve_model(client, f"{name}/1"))
