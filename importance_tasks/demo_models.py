"""Small Keras models trained on data that ships with scikit-learn (nothing is downloaded)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["diabetes_frames", "train_mlp"]


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
