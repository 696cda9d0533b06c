"""Model randomisation test (Adebayo et al. 2018, "Sanity checks for saliency maps").

An importance method that explains the model should give a different ranking once the
model's weights are replaced by random ones. If the ranking barely changes, the method is
explaining the data (or itself), not the model, and is flagged as untrustworthy here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from importance_tasks.data import EvalData
from importance_tasks.errors import UnsupportedModelError
from importance_tasks.methods.base import ImportanceMethod
from importance_tasks.model import KerasModel, Model
from importance_tasks.result import Importance

__all__ = [
    "DEFAULT_THRESHOLD",
    "randomized_copy",
    "randomized_result",
    "sanity_check",
    "verdict",
    "with_verdict",
]

DEFAULT_THRESHOLD = 0.8


def randomized_copy(model: Model, *, seed: int) -> KerasModel:
    """The same Keras architecture with every trainable weight redrawn from N(0, std of that
    weight). State that was not learned by gradient (a ``Normalization``'s mean and variance,
    a lookup's vocabulary, batch-norm statistics) is kept: redrawing a variance would make it
    negative, and the test is about what the network learned."""
    if not isinstance(model, KerasModel):
        raise UnsupportedModelError("the sanity check needs a Keras model to randomise")
    rng = np.random.default_rng(seed)
    clone = _copy(model.keras_model)
    for weight in clone.trainable_weights:
        values = np.asarray(weight.numpy())
        scale = float(values.std()) or 0.05
        weight.assign(rng.normal(0.0, scale, size=values.shape).astype(values.dtype))
    return KerasModel(clone, columns=model.feature_names, categories=model.categories)


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


def randomized_result(
    method: ImportanceMethod, model: Model, data: EvalData, *, scoring: str = "auto", seed: int = 0
) -> Importance:
    """``method`` on a randomised copy of ``model`` (the same copy for the same seed)."""
    return method.compute(randomized_copy(model, seed=seed), data, scoring=scoring)


def verdict(
    result: Importance, randomized: Importance, *, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """Spearman correlation between the rankings on the model and on its randomised copy, and
    ``passed`` (correlation below ``threshold``)."""
    from scipy.stats import spearmanr

    if np.ptp(result.mean) == 0 or np.ptp(randomized.mean) == 0:
        rho = 1.0 if np.array_equal(result.mean, randomized.mean) else 0.0
    else:
        rho = float(spearmanr(result.mean, randomized.mean).statistic)
    return {"spearman": rho, "passed": bool(rho < threshold), "threshold": threshold}


def with_verdict(result: Importance, found: Mapping[str, Any]) -> Importance:
    """``result`` with ``diagnostics["sanity"]`` set to ``found``."""
    return dataclasses.replace(result, diagnostics={**result.diagnostics, "sanity": dict(found)})


def sanity_check(
    method: ImportanceMethod,
    model: Model,
    data: EvalData,
    result: Importance,
    *,
    scoring: str = "auto",
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
) -> Importance:
    """``result`` with ``diagnostics["sanity"]``: its ``verdict`` against ``method`` on a
    randomised copy of the model."""
    randomized = randomized_result(method, model, data, scoring=scoring, seed=seed)
    return with_verdict(result, verdict(result, randomized, threshold=threshold))
