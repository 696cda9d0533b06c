"""Importance read off the weights of a Dense stack: the naive answer and two better ones."""

from __future__ import annotations

from itertools import pairwise
from typing import Any, ClassVar, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from importance_tasks.errors import InputError, UnsupportedModelError
from importance_tasks.methods._common import make_result, resolve_groups, settings_of
from importance_tasks.methods.base import ImportanceMethod, Run, choice
from importance_tasks.result import Importance

__all__ = ["Weights", "dense_kernels"]

Kind = Literal["olden", "garson", "first_layer"]
KINDS: tuple[str, ...] = get_args(Kind)
# Layers that pass values through without mixing inputs (at inference).
_PASS_THROUGH = {
    "InputLayer",
    "Dropout",
    "Activation",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
}


class Weights(ImportanceMethod):
    """Connection-weight importance; needs a Keras model that is a chain of Dense layers.

    ``kind="first_layer"``: sum over hidden units of |first-layer weight|, the answer people
    reach for first. It is wrong in general (later layers amplify, cancel and mix inputs) and
    is kept only as a baseline to compare against.

    ``kind="garson"`` (Garson 1991, generalised to several hidden layers as in Goh 1995):
    each unit's absolute incoming weights normalised to shares, the shares propagated through
    every Dense layer to the outputs and normalised to sum to 1.

    ``kind="olden"`` (Olden & Jackson 2002; Olden, Joy & Death 2004), default: the product of
    the weight matrices of all Dense layers, input to output; importance is its absolute value
    summed over outputs. Olden et al. found it the most accurate weight-based method.

    Weight methods ignore biases, activations and the data: they are cheap but only
    approximate. A group's importance is the sum of its columns' importances.

    Parameters
    ----------
    kind : {"olden", "garson", "first_layer"}, default="olden"
    groups : mapping of str to sequence of str, optional
    """

    name: ClassVar[str] = "weights"
    label: ClassVar[str] = "weights"
    unit: ClassVar[str] = "layers"
    needs_data: ClassVar[bool] = False
    in_consensus: ClassVar[bool] = False

    kind: Kind = choice(
        "olden",
        KINDS,
        help="olden (default), garson, or first_layer (the naive answer, a baseline)",
    )

    def seconds(self, n_rows: int, n_features: int, rows_per_s: float) -> float:
        """No model evaluations: read from the weights."""
        return 0.0

    def measure(self, run: Run) -> Importance:
        """Weight-based importance of every feature or group (``data`` gives only the names)."""
        data = run.data
        kernels = dense_kernels(getattr(run.model, "keras_model", None))
        if kernels[0].shape[0] != len(data.feature_names):
            raise InputError(
                f"the first Dense layer takes {kernels[0].shape[0]} inputs but the data has "
                f"{len(data.feature_names)} features"
            )
        per_column = _KIND[self.kind](kernels)
        rows = resolve_groups(data.feature_names, self.groups)
        mean = np.array([per_column[row.columns].sum() for row in rows])
        return make_result(
            self.name,
            rows,
            mean=mean,
            std=np.zeros_like(mean),
            settings=settings_of(kind=self.kind, groups=self.groups, n_layers=len(kernels)),
            started=run.started,
        )


def dense_kernels(keras_model: Any) -> list[NDArray[np.float64]]:
    """Kernels (in, out) of the model's Dense layers, checked to form one chain.

    Affine preprocessing on the inputs before the first Dense layer (``Normalization``,
    ``Rescaling``) is folded into the first kernel: ``(x - m) / s`` feeds ``W`` exactly as
    ``x`` feeds ``W / s`` (the shift goes to the bias, which weight methods ignore).

    Raises
    ------
    UnsupportedModelError
        When there is no Keras model, or it holds a layer other than Dense, affine input
        preprocessing and layers that only pass values through (Dropout, Activation, ...).
    """
    if keras_model is None or not hasattr(keras_model, "layers"):
        raise UnsupportedModelError(
            "the weights method needs a Keras model; this model has no layers"
        )
    kernels: list[NDArray[np.float64]] = []
    scale = np.ones(1)
    for layer in keras_model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            kernel = np.asarray(layer.kernel.numpy(), dtype=np.float64)
            kernels.append(kernel * scale.reshape(-1, 1) if not kernels else kernel)
        elif kind in _AFFINE and not kernels:
            scale = scale * _AFFINE[kind](layer)
        elif kind not in _PASS_THROUGH:
            where = " after the first Dense layer" if kind in _AFFINE else ""
            raise UnsupportedModelError(
                f"the weights method needs a plain stack of Dense layers; layer "
                f"{layer.name!r} is a {kind}{where}. Use permutation or probe for this model."
            )
    if not kernels:
        raise UnsupportedModelError(
            "the weights method needs at least one Dense layer; the model has none"
        )
    if scale.size not in (1, kernels[0].shape[0]):
        raise UnsupportedModelError("the input preprocessing does not match the first Dense layer")
    for a, b in pairwise(kernels):
        if a.shape[1] != b.shape[0]:
            raise UnsupportedModelError(
                "the Dense layers do not form one chain (mismatched shapes)"
            )
    return kernels


def _normalization_scale(layer: Any) -> NDArray[np.float64]:
    """Keras' ``Normalization`` computes ``(x - mean) / max(sqrt(variance), epsilon)`` (or its
    inverse): the factor each input is multiplied by."""
    import keras

    if tuple(layer.axis) not in {(-1,), (1,)}:
        raise UnsupportedModelError(
            f"layer {layer.name!r} normalises over axis {layer.axis}, not per feature"
        )
    sd = np.sqrt(np.asarray(layer.variance, dtype=np.float64).reshape(-1))
    sd = np.maximum(sd, keras.config.epsilon())
    return sd if getattr(layer, "invert", False) else 1.0 / sd


def _rescaling_scale(layer: Any) -> NDArray[np.float64]:
    return np.asarray(layer.scale, dtype=np.float64).reshape(-1)


# Affine input preprocessing folded into the first kernel: the factor on each input.
_AFFINE = {"Normalization": _normalization_scale, "Rescaling": _rescaling_scale}


def _first_layer(kernels: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    return np.abs(kernels[0]).sum(axis=1)


def _olden(kernels: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    product = kernels[0]
    for kernel in kernels[1:]:
        product = product @ kernel
    return np.abs(product).sum(axis=1)


def _garson(kernels: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    share = np.eye(kernels[0].shape[0])
    for kernel in kernels:
        magnitude = np.abs(kernel)
        totals = magnitude.sum(axis=0, keepdims=True)
        incoming = np.divide(magnitude, totals, out=np.zeros_like(magnitude), where=totals > 0)
        share = share @ incoming
    # Weight each output by the total magnitude of its incoming connections, as Garson does.
    output_weight = np.abs(kernels[-1]).sum(axis=0)
    contribution = share @ output_weight
    total = contribution.sum()
    return contribution / total if total > 0 else contribution


_KIND = {"olden": _olden, "garson": _garson, "first_layer": _first_layer}
