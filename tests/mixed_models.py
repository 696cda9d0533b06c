"""A Keras model with named string, integer and float inputs, whose answer is known.

y = 2 * income + CITY[city] + 0.8 * (plan == 3): ``income``, ``city`` and ``plan`` drive the
output; ``colour`` (a string) and ``noise`` (a float) are inputs the model ignores (weights 0).
The weights are set, not trained, so the truth holds exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

CITIES = ("lima", "oslo", "paris", "rome")
CITY = {"lima": -1.5, "oslo": 0.5, "paris": 2.0, "rome": -1.0}
COLOURS = ("blue", "green", "red")
PLANS = (1, 2, 3)
DRIVERS = ("income", "city", "plan")
IGNORED = ("colour", "noise")


def mixed_model() -> Any:
    import keras

    inputs = {
        "income": keras.Input(shape=(1,), name="income"),
        "city": keras.Input(shape=(1,), name="city", dtype="string"),
        "colour": keras.Input(shape=(1,), name="colour", dtype="string"),
        "plan": keras.Input(shape=(1,), name="plan", dtype="int64"),
        "noise": keras.Input(shape=(), name="noise"),
    }
    encoded = [
        inputs["income"],
        keras.layers.StringLookup(
            vocabulary=list(CITIES), output_mode="one_hot", name="city_lookup"
        )(inputs["city"]),
        keras.layers.StringLookup(vocabulary=list(COLOURS), output_mode="one_hot")(
            inputs["colour"]
        ),
        keras.layers.IntegerLookup(vocabulary=list(PLANS), output_mode="one_hot")(inputs["plan"]),
        keras.layers.Reshape((1,))(inputs["noise"]),
    ]
    dense = keras.layers.Dense(1)
    model = keras.Model(inputs, dense(keras.layers.Concatenate()(encoded)))
    kernel = [2.0]  # income
    kernel += [0.0, *(CITY[c] for c in CITIES)]  # out-of-vocabulary first
    kernel += [0.0] * (1 + len(COLOURS))
    kernel += [0.0, 0.0, 0.0, 0.8]  # plan: OOV, 1, 2, 3
    kernel += [0.0]  # noise
    dense.set_weights([np.array(kernel, np.float32)[:, None], np.zeros(1, np.float32)])
    return model


def mixed_frame(n_rows: int = 600, *, seed: int = 0) -> pd.DataFrame:
    """Evaluation rows in the data's own column order (not the model's), with target ``y``."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "colour": rng.choice(COLOURS, size=n_rows),
            "plan": rng.choice(PLANS, size=n_rows).astype(np.int64),
            "noise": rng.normal(size=n_rows),
            "city": rng.choice(CITIES, size=n_rows, p=[0.1, 0.2, 0.3, 0.4]),
            "income": rng.normal(size=n_rows),
        }
    )
    frame["y"] = 2 * frame["income"] + frame["city"].map(CITY) + 0.8 * (frame["plan"] == 3)
    return frame


def keras_inputs(frame: pd.DataFrame) -> dict[str, Any]:
    """The frame's columns as the model's named inputs (strings as strings)."""
    return {
        "income": frame["income"].to_numpy(np.float32)[:, None],
        "city": frame["city"].to_numpy(str)[:, None],
        "colour": frame["colour"].to_numpy(str)[:, None],
        "plan": frame["plan"].to_numpy(np.int64)[:, None],
        "noise": frame["noise"].to_numpy(np.float32),
    }
