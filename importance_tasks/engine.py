"""Run several methods on one model and data, and combine their rankings."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from importance_tasks.data import EvalData
from importance_tasks.errors import InputError
from importance_tasks.evaluable import constant_features, mark_not_evaluable
from importance_tasks.methods import REGISTRY, UnsupportedModelError, make_method
from importance_tasks.model import Model
from importance_tasks.ranking import Consensus, consensus
from importance_tasks.result import Importance

__all__ = ["Analysis", "explain", "method_options"]

DEFAULT_METHODS = (
    "permutation",
    "probe",
    "weights",
    "integrated_gradients",
    "shap",
    "lime",
    "sage",
)
# Options given to every method that declares them.
_SHARED = ("random_state", "groups")


@dataclass(frozen=True)
class Analysis:
    """Results of several methods on one model and data, with their consensus.

    Attributes
    ----------
    results : mapping of method name to Importance
    consensus : Consensus
    skipped : mapping of method name to the reason it could not run on this model
    """

    results: Mapping[str, Importance]
    consensus: Consensus
    skipped: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape (the contract other pipelines read)."""
        return {
            "features": list(self.consensus.features),
            "methods": {name: result.as_dict() for name, result in self.results.items()},
            "consensus": self.consensus.as_dict(),
        }


def method_options(name: str, shared: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of shared options that method ``name`` accepts."""
    import inspect

    accepted = inspect.signature(REGISTRY[name]).parameters
    return {k: v for k, v in shared.items() if k in accepted and k in _SHARED}


def explain(
    model: Model,
    data: EvalData,
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    scoring: str = "auto",
    options: Mapping[str, Mapping[str, Any]] | None = None,
    random_state: int | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    skip_unsupported: bool = False,
    sanity_check: bool = False,
) -> Analysis:
    """Compute importance with each method and a consensus ranking.

    Parameters
    ----------
    model : Model
    data : EvalData
    methods : sequence of str
        Registry names, run in this order.
    scoring : str, default="auto"
        Scorer for loss-based methods (see ``importance_tasks.scoring.SCORERS``).
    options : mapping of method name to its keyword options, optional
    random_state : int, optional
        Seed given to every method that takes one (unless its options set another).
    groups : mapping of str to sequence of str, optional
        Column groups given to every method.
    on_progress : callable (method, done, total), optional
    skip_unsupported : bool, default=False
        Record a method that raises ``UnsupportedModelError`` (e.g. ``weights`` on a model
        that is not a Dense stack) in ``skipped`` instead of failing the analysis.
    sanity_check : bool, default=False
        Re-run each method on a randomised copy of the model; the verdict is in each
        result's ``settings["sanity"]`` (see ``importance_tasks.sanity``).
    """
    if not methods:
        raise InputError("methods must name at least one method")
    unknown = [m for m in methods if m not in REGISTRY]
    if unknown:
        raise InputError(f"unknown methods {unknown}; available: {', '.join(REGISTRY)}")
    options = dict(options or {})
    stray = set(options) - set(methods)
    if stray:
        raise InputError(f"options given for methods that do not run: {sorted(stray)}")
    shared = {"random_state": random_state, "groups": groups}
    results: dict[str, Importance] = {}
    skipped: dict[str, str] = {}
    constant = constant_features(data)
    for name in methods:
        kwargs = {**method_options(name, shared), **options.get(name, {})}
        method = make_method(name, **kwargs)
        progress = None if on_progress is None else _bind(on_progress, name)
        try:
            results[name] = method.compute(model, data, scoring=scoring, progress=progress)
            if sanity_check:
                from importance_tasks.sanity import sanity_check as check

                results[name] = check(
                    method, model, data, results[name], scoring=scoring, seed=random_state or 0
                )
            results[name] = mark_not_evaluable(results[name], constant)
        except UnsupportedModelError as exc:
            if not skip_unsupported:
                raise
            skipped[name] = str(exc)
    if not results:
        raise InputError(f"no method could run on this model: {skipped}")
    return Analysis(results=results, consensus=consensus(list(results.values())), skipped=skipped)


def _bind(fn: Callable[[str, int, int], None], name: str) -> Callable[[int, int], None]:
    return lambda done, total: fn(name, done, total)
