"""Model files that would run code when loaded are refused before any of it runs. Every test
model writes a marker file when its code runs; the test asserts the marker never appears after
the refusal, and (where the library allows) that loading it unsafely does write it, which
proves the test model really carries code."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from importance_tasks.errors import UnsafeModelError
from importance_tasks.keras.safe_load import load_keras_file


def _writer(marker):
    """A Python function that writes the marker when called."""
    return eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), x)[1]")


def _graph_module(marker):
    """A tf.Module whose traced graph writes the marker (SavedModel graphs are code)."""
    import tensorflow as tf

    class Writer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def serve(self, x):
            tf.io.write_file(str(marker), "ran")
            return {"output": tf.reduce_sum(x, axis=1, keepdims=True)}

    return Writer()


def test_lambda_layer_in_a_keras_archive(tmp_path):
    import keras

    marker = tmp_path / "marker"
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, keras.layers.Lambda(_writer(marker))(inputs))
    model.save(tmp_path / "m.keras")
    marker.unlink()  # building the model called the function once
    with pytest.raises(UnsafeModelError, match="Lambda layer"):
        load_keras_file(tmp_path / "m.keras")
    assert not marker.exists()


@pytest.mark.tensorflow
def test_exported_savedmodel(tmp_path):
    import tensorflow as tf

    marker = tmp_path / "marker"
    module = _graph_module(marker)
    tf.saved_model.save(module, str(tmp_path / "exported"), signatures={"serve": module.serve})
    with pytest.raises(UnsafeModelError, match="SavedModel"):
        load_keras_file(tmp_path / "exported")
    assert not marker.exists()
    tf.saved_model.load(str(tmp_path / "exported")).serve(np.zeros((1, 3), np.float32))
    assert marker.exists()  # the graph is code: calling it wrote the file


@pytest.mark.tensorflow
def test_tfsm_layer_in_a_keras_archive(tmp_path):
    import keras
    import tensorflow as tf

    marker = tmp_path / "marker"
    module = _graph_module(marker)
    tf.saved_model.save(module, str(tmp_path / "exported"), signatures={"serve": module.serve})
    inputs = keras.Input(shape=(3,))
    layer = keras.layers.TFSMLayer(str(tmp_path / "exported"), call_endpoint="serve")
    model = keras.Model(inputs, layer(inputs)["output"])
    model.save(tmp_path / "m.keras")
    marker.unlink(missing_ok=True)
    with pytest.raises(UnsafeModelError, match="TFSMLayer layer"):
        load_keras_file(tmp_path / "m.keras")
    assert not marker.exists()


def test_legacy_h5_file(tmp_path):
    import keras

    marker = tmp_path / "marker"
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, keras.layers.Lambda(_writer(marker))(inputs))
    model.save(tmp_path / "m.h5")
    marker.unlink()
    with pytest.raises(UnsafeModelError, match=r"legacy \.h5"):
        load_keras_file(tmp_path / "m.h5")
    assert not marker.exists()
    keras.models.load_model(tmp_path / "m.h5", safe_mode=False)(np.zeros((1, 3)))
    assert marker.exists()


def test_custom_object_from_another_module(tmp_path):
    """A registered custom layer: Keras would import its module (any code) to rebuild it."""
    import keras

    marker = tmp_path / "marker"

    @keras.saving.register_keras_serializable(package="evil")
    class Writer(keras.layers.Layer):
        def call(self, x):
            return x

        @classmethod
        def from_config(cls, config):
            marker.write_text("ran")
            return cls(**config)

    inputs = keras.Input(shape=(3,))
    keras.Model(inputs, Writer()(inputs)).save(tmp_path / "m.keras")
    with pytest.raises(UnsafeModelError, match="custom object"):
        load_keras_file(tmp_path / "m.keras")
    assert not marker.exists()
    keras.saving.load_model(tmp_path / "m.keras")
    assert marker.exists()


@pytest.mark.parametrize("member", ["model.pkl", "assets/../model.pkl", "/tmp/model.pkl"])
def test_pickle_smuggled_into_a_keras_archive(tmp_path, member):
    import pickle

    import keras

    marker = tmp_path / "marker"
    inputs = keras.Input(shape=(3,))
    keras.Model(inputs, keras.layers.Dense(1)(inputs)).save(tmp_path / "m.keras")
    payload = pickle.dumps(_Touch(str(marker)))
    with zipfile.ZipFile(tmp_path / "m.keras", "a") as archive:
        archive.writestr(member, payload)
    with pytest.raises(UnsafeModelError, match="unexpected files"):
        load_keras_file(tmp_path / "m.keras")
    assert not marker.exists()
    pickle.loads(payload)
    assert marker.exists()


class _Touch:
    """Unpickling this writes the marker (``__reduce__`` names a function to call)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (_touch, (self.path,))


def _touch(path: str) -> None:
    with open(path, "w") as handle:
        handle.write("ran")


def test_a_model_saved_by_a_newer_keras_is_named_not_a_traceback(tmp_path):
    """A newer Keras writes arguments an older one does not know (here: an initializer's):
    one line names both versions instead of Keras' deserialisation traceback."""
    import json

    import keras

    from importance_tasks.errors import UnsupportedModelError

    path = tmp_path / "m.keras"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]).save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    dense = config["config"]["layers"][-1]["config"]
    dense["kernel_initializer"]["config"]["argument_from_the_future"] = 1
    members["config.json"] = json.dumps(config).encode()
    members["metadata.json"] = json.dumps({"keras_version": "9.9.9"}).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(UnsupportedModelError) as refused:
        load_keras_file(path)
    message = str(refused.value)
    assert (
        f"saved by Keras 9.9.9 and cannot be loaded by the installed Keras {keras.__version__}"
        in message
    )
    assert "argument_from_the_future" in message and "\n" not in message
