"""Importance methods: one module and one class each, listed in an explicit registry."""

from __future__ import annotations

from typing import Any

from importance_tasks.errors import InputError, UnsupportedModelError
from importance_tasks.methods.base import ImportanceMethod
from importance_tasks.methods.conditional_permutation import ConditionalPermutation
from importance_tasks.methods.integrated_gradients import IntegratedGradients
from importance_tasks.methods.lime import Lime
from importance_tasks.methods.permutation import Permutation
from importance_tasks.methods.probe import Probe
from importance_tasks.methods.sage import Sage
from importance_tasks.methods.shap import Shap
from importance_tasks.methods.weights import Weights

__all__ = [
    "REGISTRY",
    "ConditionalPermutation",
    "ImportanceMethod",
    "IntegratedGradients",
    "Lime",
    "Permutation",
    "Probe",
    "Sage",
    "Shap",
    "UnsupportedModelError",
    "Weights",
    "make_method",
]

REGISTRY: dict[str, type[ImportanceMethod]] = {
    Permutation.name: Permutation,
    ConditionalPermutation.name: ConditionalPermutation,
    Probe.name: Probe,
    Weights.name: Weights,
    IntegratedGradients.name: IntegratedGradients,
    Shap.name: Shap,
    Lime.name: Lime,
    Sage.name: Sage,
}


def make_method(name: str, **options: Any) -> ImportanceMethod:
    """Build the method registered as ``name`` with its keyword options.

    Raises
    ------
    InputError
        When no method has that name, or an option is unknown or out of range (also when a
        check deeper down raises a plain ``ValueError``: a bad option is never worth a retry).
    """
    if name not in REGISTRY:
        raise InputError(f"unknown method {name!r}; available: {', '.join(REGISTRY)}")
    try:
        return REGISTRY[name](**options)
    except InputError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(f"method {name!r}: {exc}") from exc
