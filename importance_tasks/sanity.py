"""Model randomisation test (Adebayo et al. 2018, "Sanity checks for saliency maps").

An importance method that explains the model should give a different ranking once the
model's weights are replaced by random ones. If the ranking barely changes, the method is
explaining the data (or itself), not the model, and is flagged as untrustworthy here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from importance_tasks.data import EvalData
from importance_tasks.errors import UnsupportedModelError
from importance_tasks.methods.base import ImportanceMethod
from importance_tasks.model import KerasModel, Model
from importance_tasks.result import Importance

__all__ = ["DEFAULT_THRESHOLD", "randomized_copy", "sanity_check"]

DEFAULT_THRESHOLD = 0.8


def randomized_copy(model: Model, *, seed: int) -> KerasModel:
    """The same Keras architecture with every weight redrawn from N(0, std of that weight)."""
    keras_model = getattr(model, "keras_model", None)
    if keras_model is None:
        raise UnsupportedModelError("the sanity check needs a Keras model to randomise")
    import keras

    rng = np.random.default_rng(seed)
    clone = keras.models.clone_model(keras_model)
    clone.set_weights(
        [
            rng.normal(0.0, float(w.std()) or 0.05, size=w.shape).astype(w.dtype)
            for w in keras_model.get_weights()
        ]
    )
    return KerasModel(clone)


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
    """``result`` with ``settings["sanity"]``: Spearman correlation between its ranking and the
    ranking on a randomised copy of the model, and ``passed`` (correlation below
    ``threshold``)."""
    from scipy.stats import spearmanr

    randomized = method.compute(randomized_copy(model, seed=seed), data, scoring=scoring)
    if np.ptp(result.mean) == 0 or np.ptp(randomized.mean) == 0:
        rho = 1.0 if np.array_equal(result.mean, randomized.mean) else 0.0
    else:
        rho = float(spearmanr(result.mean, randomized.mean).statistic)
    verdict: dict[str, Any] = {
        "spearman": rho,
        "passed": bool(rho < threshold),
        "threshold": threshold,
    }
    return dataclasses.replace(result, settings={**result.settings, "sanity": verdict})
