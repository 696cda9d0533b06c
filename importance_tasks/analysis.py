"""The in-memory analysis: several methods on one model and data, and their consensus.

``explain`` computes and returns an ``Analysis``; nothing is logged. The logged analysis (one
MLflow run per model version, data and configuration) is the stage, ``importance_tasks.stage``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from importance_tasks.columns import row_type
from importance_tasks.config import AnalysisConfig
from importance_tasks.data import EvalData
from importance_tasks.dependence import Dependence, data_dependence
from importance_tasks.effects.steps import InteractionsAndEffects, effects_and_interactions
from importance_tasks.errors import InputError, UnsupportedModelError
from importance_tasks.evaluable import constant_features
from importance_tasks.keras.heads import Head
from importance_tasks.keras.keras_model import KerasModel, for_data
from importance_tasks.keras.lookups import unseen_values
from importance_tasks.methods import REGISTRY
from importance_tasks.model import Model, input_groups
from importance_tasks.ranking.negligible import negligible
from importance_tasks.ranking.ranks import Consensus, consensus
from importance_tasks.result import Importance
from importance_tasks.runner import run_method

__all__ = [
    "Analysis",
    "Prepared",
    "by_output",
    "explain",
    "explain_outputs",
    "features_barely_used",
    "prepare",
    "steps_on",
]


@dataclass(frozen=True)
class Analysis:
    """Results of several methods on one model and data, with their consensus.

    Attributes
    ----------
    results : mapping of method name to Importance
    consensus : Consensus
    skipped : mapping of method name to the reason it could not run on this model
    column_types : mapping of column name to its type for people (``string (4 values)``)
    dependence : Dependence or None
        Dependence between the features on the data, and their clusters.
    steps : InteractionsAndEffects
        The analysis steps on the top features: interactions and effects.
    unseen : mapping of column name to rows
        Rows whose value a lookup layer of the model has no entry for (analysed as the
        model's out-of-vocabulary value; ``keras.lookups``).
    backend : str
        The Keras backend the model ran on ("" for a model function).
    """

    results: Mapping[str, Importance]
    consensus: Consensus
    skipped: Mapping[str, str] = field(default_factory=dict)
    column_types: Mapping[str, str] = field(default_factory=dict)
    dependence: Dependence | None = None
    steps: InteractionsAndEffects = field(default_factory=InteractionsAndEffects)
    unseen: Mapping[str, int] = field(default_factory=dict)
    backend: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape (the contract other pipelines read)."""
        return {
            "features": list(self.consensus.features),
            **({"backend": self.backend} if self.backend else {}),
            "column_types": dict(self.column_types),
            "methods": {
                name: {
                    **result.as_dict(),
                    **_intervals_dict(self.consensus, name),
                    **_diagnostic(result, "sanity"),
                    **_diagnostic(result, "by_step"),
                }
                for name, result in self.results.items()
            },
            "consensus": self.consensus.as_dict(),
            "negligible": list(self.negligible),
            "unseen": dict(self.unseen),
            "clusters": []
            if self.dependence is None
            else [list(c) for c in self.dependence.clusters],
            "cluster_importance": self.cluster_importance(),
            **self.steps.to_dict(),
        }

    @property
    def negligible(self) -> tuple[str, ...]:
        """The features the model barely uses, by every method of the consensus
        (``ranking.negligible``)."""
        return features_barely_used(self.results.values(), self.consensus)

    def cluster_importance(self) -> dict[str, dict[str, Any]]:
        """Per method that ranked the clusters as groups: cluster -> its importance."""
        return {
            name: dict(result.diagnostics["cluster_importance"])
            for name, result in self.results.items()
            if result.diagnostics.get("cluster_importance")
        }

    def row_type(self, feature: str) -> str:
        """The type of a result row: its column's, or ``group of k`` for a group."""
        groups = {k: v for r in self.results.values() for k, v in r.groups.items()}
        return row_type(feature, self.column_types, groups)


@dataclass(frozen=True)
class Prepared:
    """The configuration completed from the model and its data, the data's dependence, and
    the values the model's lookups have no entry for."""

    config: AnalysisConfig
    dependence: Dependence
    unseen: Mapping[str, int] = field(default_factory=dict)


def prepare(model: Model, data: EvalData, config: AnalysisConfig) -> Prepared:
    """The setup every analysis shares (``explain``, ``stage.plan``), for a model bound to
    the data's columns once (``for_data``; ``heads_of`` binds each output's): the model's
    multi-column inputs as groups, the data's clusters of dependent features (of a sequence
    model: of its variables, each at the window's last step, each cluster ranked by its
    variables' cells), and the values its lookup layers have no entry for."""
    config = config.with_input_groups(input_groups(model))
    cells = model.variable_cells() if isinstance(model, KerasModel) else {}
    measured = _at_last_step(data, cells) if cells else data
    found = data_dependence(measured, threshold=config.cluster_threshold, seed=config.seed)
    clustered = config.with_clusters(found.clusters, columns=cells)
    return Prepared(clustered, found, unseen_values(model, data))


def _at_last_step(data: EvalData, cells: Mapping[str, tuple[str, ...]]) -> EvalData:
    """A sequence model's variables at each window's last step, beside the columns of its
    other inputs: what the dependence between them is measured on (a variable's cells across
    steps are one variable, not a cluster)."""
    position = {name: j for j, name in enumerate(data.feature_names)}
    windowed = {c for members in cells.values() for c in members}
    others = [c for c in data.feature_names if c not in windowed]
    columns = [position[c] for c in others] + [position[m[-1]] for m in cells.values()]
    return EvalData(
        X=data.X[:, columns],
        y=data.y,
        feature_names=(*others, *cells),
        categories={c: data.categories[c] for c in others if c in data.categories},
        column_types={c: data.column_type(c) for c in others},
    )


def explain(
    model: Model,
    data: EvalData,
    config: AnalysisConfig | None = None,
    *,
    on_progress: Callable[[str, int, int], None] | None = None,
    skip_unsupported: bool = False,
    **settings: Any,
) -> Analysis:
    """Compute importance with each method of ``config`` and a consensus ranking.

    Parameters
    ----------
    model : Model
    data : EvalData
    config : AnalysisConfig, optional
        What to compute; or give its settings as keywords (``methods=["probe"], seed=3,
        method_options={"probe": {"baseline": "median"}}``), not both.
    on_progress : callable (method, done, total), optional
    skip_unsupported : bool, default=False
        Record a method that raises ``UnsupportedModelError`` (e.g. ``weights`` on a model
        that is not a Dense stack) in ``skipped`` instead of failing the analysis.
    """
    if config is None:
        config = AnalysisConfig.from_settings(settings)
    elif settings:
        raise InputError(f"give a config or settings {sorted(settings)}, not both")
    return _explain_bound(
        for_data(model, data), data, config, on_progress=on_progress,
        skip_unsupported=skip_unsupported,
    )  # fmt: skip


def _explain_bound(
    model: Model,
    data: EvalData,
    config: AnalysisConfig,
    *,
    on_progress: Callable[[str, int, int], None] | None,
    skip_unsupported: bool,
) -> Analysis:
    """``explain`` for a model bound to the data's columns."""
    prepared = prepare(model, data, config)
    config, found = prepared.config, prepared.dependence
    results: dict[str, Importance] = {}
    skipped: dict[str, str] = {}
    constant = constant_features(data)
    for name in config.methods:
        outcome = run_method(
            name,
            config,
            model,
            data,
            constant=constant,
            progress=None if on_progress is None else _bind(on_progress, name),
        )
        if outcome.result is not None:
            results[name] = outcome.result
        elif not skip_unsupported:
            raise UnsupportedModelError(f"{name}: {outcome.skipped}")
        else:
            skipped[name] = outcome.skipped or ""
    if not results:
        raise InputError(f"no method could run on this model: {skipped}")
    combined = consensus(
        list(results.values()), k=config.top_k, seed=config.seed, counted=config.counted_methods
    )
    return Analysis(
        results=results,
        consensus=combined,
        skipped=skipped,
        column_types=data.described_types(),
        dependence=found,
        steps=steps_on(model, data, config, combined, results.values()),
        unseen=prepared.unseen,
        backend=getattr(model, "backend", ""),
    )


def features_barely_used(results: Iterable[Importance], combined: Consensus) -> tuple[str, ...]:
    """``ranking.negligible`` over the methods ``combined`` ranks by, each judged by the rule
    of its kind (loss-based or attribution)."""
    loss_based = {name for name, method in REGISTRY.items() if method.uses_labels}
    return negligible(list(results), counted=combined.methods, loss_based=loss_based)


def steps_on(
    model: Model,
    data: EvalData,
    config: AnalysisConfig,
    combined: Consensus,
    results: Iterable[Importance],
) -> InteractionsAndEffects:
    """The interactions and effects of the top features of ``combined`` (as ``config``
    asks), each feature's columns as the results grouped them."""
    groups = {k: v for r in results for k, v in r.groups.items()}
    ranked = [combined.features[i] for i in np.argsort(combined.rank, kind="stable")]
    return effects_and_interactions(
        model,
        data,
        ranked,
        groups,
        interaction_top=config.interaction_top if config.interactions else None,
        effect_top=config.effect_top if config.effects else None,
        seed=config.seed,
    )


def explain_outputs(
    heads: Sequence[tuple[Head, Model, EvalData]],
    config: AnalysisConfig,
    *,
    on_progress: Callable[[str, int, int], None] | None = None,
    skip_unsupported: bool = False,
) -> dict[str, Analysis]:
    """``explain`` for each output of ``heads`` (``keras.keras_model.heads_of``): each
    with its own model, target and scoring (``AnalysisConfig.scoring_for``); keyed by the
    heads' keys."""
    config.check_outputs([head.key for head, _, _ in heads])
    return {
        head.key: _explain_bound(
            model,
            data,
            config.for_output(head.key),
            on_progress=None if on_progress is None else _prefixed(on_progress, head.key, heads),
            skip_unsupported=skip_unsupported,
        )
        for head, model, data in heads
    }


def by_output(analyses: Mapping[str, Analysis]) -> dict[str, Any]:
    """The CLI's JSON of an analysis of several outputs: ``{"outputs": {key: shape of
    Analysis.as_dict}}``; of one output, that output's shape as it is."""
    if len(analyses) == 1:
        return next(iter(analyses.values())).as_dict()
    return {"outputs": {key: found.as_dict() for key, found in analyses.items()}}


def _prefixed(
    fn: Callable[[str, int, int], None], key: str, heads: Sequence[Any]
) -> Callable[[str, int, int], None]:
    if len(heads) == 1:
        return fn
    return lambda method, done, total: fn(f"{key}: {method}", done, total)


def _intervals_dict(consensus: Consensus, method: str) -> dict[str, Any]:
    found = consensus.method_intervals.get(method)
    if found is None:
        return {}
    record = found.to_record()
    return {"rank_interval": record["interval"], f"p_top_{found.k}": record["p_top"]}


def _diagnostic(result: Importance, key: str) -> dict[str, Any]:
    found = result.diagnostics.get(key)
    return {key: dict(found)} if found else {}


def _bind(fn: Callable[[str, int, int], None], name: str) -> Callable[[int, int], None]:
    return lambda done, total: fn(name, done, total)
