"""Randomised copies of a Keras model, for the sanity checks (``importance_tasks.sanity``):
the trainable weights of its top layers redrawn, a cascade from the top layer down."""

from __future__ import annotations

from typing import Any

import numpy as np

from importance_tasks.errors import UnsupportedModelError
from importance_tasks.keras.keras_model import KerasModel
from importance_tasks.model import Model

__all__ = ["MAX_CASCADE_STEPS", "cascade_steps", "randomized_copy", "weighted_layers"]

MAX_CASCADE_STEPS = 4


def weighted_layers(keras_model: Any) -> list[Any]:
    """The model's layers that hold trainable weights, input side first."""
    return [layer for layer in keras_model.layers if layer.trainable_weights]


def cascade_steps(model: Model) -> list[tuple[int, tuple[str, ...]]]:
    """Each cascade step: how many top layers it randomises and their names; at most
    ``MAX_CASCADE_STEPS`` steps, spread from the top layer to every weighted layer."""
    if not isinstance(model, KerasModel):
        raise UnsupportedModelError("the sanity check needs a Keras model to randomise")
    names = [layer.name for layer in weighted_layers(model.keras_model)]
    n = len(names)
    if n == 0:
        raise UnsupportedModelError("the model has no trainable weights to randomise")
    counts = sorted({round(float(k)) for k in np.linspace(1, n, min(n, MAX_CASCADE_STEPS))})
    return [(top, tuple(names[n - top :])) for top in counts]


def randomized_copy(model: Model, *, seed: int, top: int | None = None) -> KerasModel:
    """The same Keras architecture with the trainable weights of its ``top`` weighted layers
    (all with None) redrawn from N(0, std of that weight). State that was not learned by
    gradient (a ``Normalization``'s mean and variance, a lookup's vocabulary, batch-norm
    statistics) is kept: redrawing a variance would make it negative, and the test is about what
    the network learned."""
    if not isinstance(model, KerasModel):
        raise UnsupportedModelError("the sanity check needs a Keras model to randomise")
    rng = np.random.default_rng(seed)
    clone = _copy(model.keras_model)
    layers = weighted_layers(clone)
    chosen = layers if top is None else layers[max(len(layers) - top, 0) :]
    paths = {weight.path for layer in chosen for weight in layer.trainable_weights}
    for weight in clone.trainable_weights:
        if weight.path not in paths:
            continue
        values = np.asarray(weight.numpy())
        scale = float(values.std()) or 0.05
        weight.assign(rng.normal(0.0, scale, size=values.shape).astype(values.dtype))
    return KerasModel(
        clone, columns=model.feature_names, categories=model.categories, steps=model.steps_asked
    )


def _copy(keras_model: Any) -> Any:
    """A copy of the model with its own weights. Lookup tables do not survive
    ``clone_model`` (they come back uninitialised), so a model holding them is copied through
    the ``.keras`` format, which saves their vocabularies."""
    import keras

    if not any(hasattr(layer, "lookup_table") for layer in keras_model._flatten_layers()):
        clone = keras.models.clone_model(keras_model)
        clone.set_weights(keras_model.get_weights())
        return clone
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "copy.keras"
        keras_model.save(path)
        return keras.saving.load_model(path, safe_mode=True)
