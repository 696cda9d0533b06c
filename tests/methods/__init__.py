"""Shared by the methods' tests: a small softmax network to explain."""

from __future__ import annotations

from typing import Any

import numpy as np


def softmax_mlp(*, n_rows: int, n_features: int, seed: int) -> tuple[Any, np.ndarray]:
    """A 3-class MLP with per-column preprocessing and a Dense first layer (untrained: SHAP
    values only need a fixed function), and rows of data for it."""
    import keras

    X = np.random.default_rng(seed).normal(size=(n_rows, n_features)).astype(np.float32) * 2 + 3
    inputs = keras.Input((n_features,))
    scaled = keras.layers.Normalization()
    scaled.adapt(X)
    h = keras.layers.Dense(16, activation="tanh")(scaled(inputs))
    h = keras.layers.Dense(8, activation="relu")(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h)), X
