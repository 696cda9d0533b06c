"""Small Keras models trained on data that ships with scikit-learn (nothing is downloaded)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.keras.backend_setup import require_backend

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "diabetes_frames",
    "mixed_diabetes_frames",
    "structured_model",
    "train_mlp",
    "train_structured",
]

SITES = ("north", "south", "east", "west")


def diabetes_frames(*, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The diabetes data set (442 patients, 10 features), standardised, split 70/30.

    Returns train and evaluation tables with the target in column ``"target"``.
    """
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    frame = load_diabetes(as_frame=True, scaled=False).frame
    features = frame.drop(columns="target")
    frame[features.columns] = (features - features.mean()) / features.std()
    frame["target"] = (frame["target"] - frame["target"].mean()) / frame["target"].std()
    train, test = train_test_split(frame, test_size=0.3, random_state=seed)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def train_mlp(
    X: NDArray[np.floating[Any]],
    y: NDArray[Any],
    *,
    hidden: tuple[int, ...] = (32, 16),
    n_outputs: int = 1,
    output_activation: str | None = None,
    loss: str = "mse",
    epochs: int = 200,
    learning_rate: float = 0.01,
    seed: int = 0,
) -> Any:
    """Train a Dense network (ReLU hidden layers) with Adam; returns the ``keras.Model``."""
    require_backend()
    import keras

    keras.utils.set_random_seed(seed)
    layers: list[Any] = [keras.Input(shape=(X.shape[1],))]
    layers += [keras.layers.Dense(units, activation="relu") for units in hidden]
    layers.append(keras.layers.Dense(n_outputs, activation=output_activation))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss)
    model.fit(
        np.asarray(X, dtype=np.float32),
        np.asarray(y),
        epochs=epochs,
        batch_size=64,
        verbose=0,
    )
    return model


def mixed_diabetes_frames(*, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The diabetes data as a team would hold it: ``age`` in whole years (int64), ``sex`` as
    strings, the other eight measurements as floats, and ``site``, a string column drawn at
    random (a known non-driver). Split 70/30; the target (standardised) is ``"target"``."""
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    frame = load_diabetes(as_frame=True, scaled=False).frame
    rng = np.random.default_rng(seed)
    frame["age"] = frame["age"].round().astype(np.int64)
    frame["sex"] = np.where(frame["sex"] == 1, "female", "male")
    frame["site"] = rng.choice(SITES, size=len(frame))
    frame["target"] = (frame["target"] - frame["target"].mean()) / frame["target"].std()
    train, test = train_test_split(frame, test_size=0.3, random_state=seed)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def structured_model(
    frame: pd.DataFrame, *, target: str, hidden: tuple[int, ...] = (32, 16)
) -> Any:
    """A Keras model in the structured-data style: one named input per column, preprocessing
    inside (``Normalization`` for numbers, ``StringLookup`` one-hot for strings), adapted to
    ``frame``; untrained."""
    import keras
    from pandas.api.types import is_numeric_dtype

    inputs, encoded = {}, []
    for column in (c for c in frame.columns if c != target):
        values = frame[column].to_numpy()
        if not is_numeric_dtype(frame[column]):
            inputs[column] = keras.Input(shape=(1,), name=column, dtype="string")
            lookup = keras.layers.StringLookup(output_mode="one_hot", name=f"{column}_lookup")
            lookup.adapt(values.astype(str))
            encoded.append(lookup(inputs[column]))
        else:
            dtype = "int64" if values.dtype.kind in "iu" else "float32"
            inputs[column] = keras.Input(shape=(1,), name=column, dtype=dtype)
            scale = keras.layers.Normalization(name=f"{column}_scaled")
            scale.adapt(values.astype(np.float32)[:, None])
            encoded.append(scale(inputs[column]))
    x = keras.layers.Concatenate()(encoded)
    for units in hidden:
        x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def train_structured(
    frame: pd.DataFrame,
    *,
    target: str,
    hidden: tuple[int, ...] = (8,),
    epochs: int = 60,
    learning_rate: float = 0.003,
    seed: int = 0,
) -> Any:
    """``structured_model`` trained on ``frame`` with Adam (mse), fed a ``tf.data`` dataset of
    column dicts as Keras' structured-data examples do; returns the ``keras.Model``."""
    import keras
    import tensorflow as tf
    from pandas.api.types import is_numeric_dtype

    keras.utils.set_random_seed(seed)
    model = structured_model(frame, target=target, hidden=hidden)
    columns = {
        c: frame[c].to_numpy() if is_numeric_dtype(frame[c]) else frame[c].to_numpy(str)
        for c in frame.columns
        if c != target
    }
    rows = tf.data.Dataset.from_tensor_slices((columns, frame[target].to_numpy(np.float32)))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    # Shuffled by the dataset itself, seeded (fit's own shuffle does not apply to a dataset).
    batches = rows.shuffle(len(frame), seed=seed).batch(64)
    model.fit(batches, epochs=epochs, shuffle=False, verbose=0)
    return model
