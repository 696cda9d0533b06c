"""One analysis configuration, declared once.

``AnalysisConfig`` is the validated, frozen answer to "what should this analysis compute": the
methods, each method's options, seed, scoring, column groups, the sanity check and row shards.
Its dataclass fields are the single declaration of the user's settings: each field's metadata
holds its help text and JSON schema, from which the DAG Params and trigger form
(``importance_tasks.airflow.params``), the command line flags (``importance_tasks.cli``) and the
task group's keywords (``importance_stage``) are generated. Adding a setting is adding a field.

Each method's own options are reached through ``method_options`` (``{"shap": {"max_evals":
60}}``; on the command line ``--option shap.max_evals=60``); their schema, help and checks are
what each method declares (``importance_tasks.methods.base.option``). Every option is checked
when the configuration is built, so a bad one fails before any run is opened.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from importance_tasks.dependence import DEFAULT_THRESHOLD as DEFAULT_CLUSTER_THRESHOLD
from importance_tasks.dependence import THRESHOLD_SCHEMA
from importance_tasks.errors import InputError
from importance_tasks.methods import (
    DEFAULT_METHODS,
    REGISTRY,
    ConditionalPermutation,
    Permutation,
    Probe,
    budget_shares,
    make_method,
    method_options_schema,
    option_setting,
)
from importance_tasks.methods.base import options_of
from importance_tasks.ranking.comparison import DEFAULT_DRIFT_THRESHOLD
from importance_tasks.ranking.uncertainty import DEFAULT_TOP_K
from importance_tasks.scoring import SCORING_SCHEMA, per_output_scoring
from importance_tasks.setting_schema import Setting, declare, declared, plain
from importance_tasks.windows import Windowing

__all__ = [
    "DEFAULT_METHODS",
    "AnalysisConfig",
    "settings",
]


def _baselines() -> tuple[str, ...]:
    """Methods kept in the tables but out of the consensus unless consensus_methods names
    them."""
    return tuple(name for name, cls in REGISTRY.items() if not cls.in_consensus)


def _guarded() -> tuple[str, ...]:
    """The methods an analysis's time guard is shared by."""
    return tuple(name for name, cls in REGISTRY.items() if "time_budget_s" in options_of(cls))


def _names(*, nullable: bool = False, at_least: int = 0) -> Any:
    """The schema of a list of method names (read when the methods are installed)."""
    return lambda: {
        "type": ["null", "array"] if nullable else "array",
        "items": {"type": "string", "enum": list(REGISTRY)},
        "uniqueItems": True,
        **({"minItems": at_least} if at_least else {}),
    }


GUARDS = ("time_budget_s",)  # options that guard a method's time, not what it computes
# Settings in the identity only where not at their defaults, so that earlier runs keep theirs:
# the analysis steps, the sanity check, the user's word that a long table's rows are in order.
_WHERE_CHANGED = ("interactions", "interaction_top", "effects", "effect_top", "sanity_check",
                  "rows_in_time_order")  # fmt: skip
GROUPS_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 1},
}


@dataclass(frozen=True)
class AnalysisConfig:
    """What one analysis computes, validated on construction (``InputError`` if not valid).

    Each field is a setting declared with its default, help and JSON schema (``settings()``;
    the help is what the command line and the DAG's trigger form show). Beyond them: the
    settings of how the data is read (``feature_names``, ``columns_in_model_order``, the
    window settings) and what the stage does with the result (``tag_version``,
    ``fail_when_unanalysable``) are not part of the analysis's identity (the data's digest
    records what the former chose); ``n_repeats``, ``max_samples`` and ``shard_rows`` are
    shortcuts for the options of the same name of the methods named in their help, which an
    explicit ``method_options`` entry overrides; a ``scoring`` mapping gives each output of a
    model with several its own (``scoring_for``).
    """

    methods: tuple[str, ...] = declare(
        DEFAULT_METHODS,
        help="importance methods, one parallel task each",
        schema=_names(at_least=1),
    )
    method_options: Mapping[str, Mapping[str, Any]] = declare(
        help='each method\'s own options, e.g. {"shap": {"max_evals": 60}}',
        schema=method_options_schema,
        factory=dict,
    )
    seed: int = declare(0, help="random seed", schema={"type": "integer", "minimum": 0})
    scoring: str | Mapping[str, str] = declare(
        "auto",
        help="loss of the loss-based methods; auto: mse (regression) or log_loss (classes); "
        'for several outputs one for all or each output\'s: {"price": "mse", "churn": "auto"}',
        schema=SCORING_SCHEMA,
    )
    groups: Mapping[str, tuple[str, ...]] = declare(
        help='columns reported as one feature: {"NAME": ["COL", ...]}',
        schema=GROUPS_SCHEMA,
        factory=dict,
    )
    auto_groups: bool = declare(
        True,
        help="find clusters of dependent features in the data (clusters, when not given) and "
        "rank each cluster as one group beside its features",
        schema={"type": "boolean"},
    )
    cluster_threshold: float = declare(
        DEFAULT_CLUSTER_THRESHOLD,
        help="least average dependence (|Spearman|, Cramér's V, correlation ratio) of the "
        "features of a cluster, in (0, 1]",
        schema=THRESHOLD_SCHEMA,
        option_of=(ConditionalPermutation.name,),
    )
    clusters: Mapping[str, tuple[str, ...]] = declare(
        help='clusters of dependent columns ranked as groups beside their features: {"NAME": '
        '["COL", ...]}; empty with auto_groups: found in the data',
        schema=GROUPS_SCHEMA,
        factory=dict,
    )
    top_k: int = declare(
        DEFAULT_TOP_K,
        help="the top k of a ranking: chance of being in it, drift of it (nDCG@k), tags",
        schema={"type": "integer", "minimum": 1},
    )
    drift_threshold: float = declare(
        DEFAULT_DRIFT_THRESHOLD,
        help="nDCG@k against the previous version below which the ranking has drifted",
        schema={"type": "number", "minimum": 0, "maximum": 1},
    )
    sanity_check: bool = declare(
        False,
        help="also run each method on copies of the model randomised from the top layer down "
        "and, for loss-based methods, on shuffled labels; a method that fails is left out of "
        "the consensus (about doubles the cost)",
        schema={"type": "boolean"},
    )
    n_repeats: int | None = option_setting("n_repeats", Permutation, help="permutation repeats")
    max_samples: float | None = option_setting(
        "max_samples", Permutation, Probe, help="rows permutation and probe use"
    )
    shard_rows: int | None = option_setting(
        "shard_rows", Permutation, Probe, help="rows per shard for permutation and probe"
    )
    consensus_methods: tuple[str, ...] | None = declare(
        None,
        help=lambda: (
            "methods whose ranks make the consensus (empty: every method but the "
            f"baselines {', '.join(_baselines())}, which are not answers); the others stay in the "
            "tables"
        ),
        schema=_names(nullable=True),
    )
    feature_names: tuple[str, ...] | None = declare(
        None,
        help="the model's input columns in its order, where MLflow records none (no named "
        "signature, input example or training dataset schema); checked against the data",
        schema={
            "type": ["null", "array"],
            "items": {"type": "string"},
            "minItems": 1,
            "uniqueItems": True,
        },
    )
    columns_in_model_order: bool = declare(
        False,
        help="when nothing names the model's input columns, take the table's columns as the "
        "model's inputs in their order (the stage refuses such data otherwise)",
        schema={"type": "boolean"},
    )
    time_column: str | None = declare(
        None,
        help="sequence models: the column ordering a long table's rows into steps (not a "
        "feature); without it the table is refused unless rows_in_time_order",
        schema={"type": ["null", "string"], "minLength": 1},
    )
    rows_in_time_order: bool = declare(
        False,
        help="sequence models: a long table without time_column is one series whose rows are "
        "already in time order (part of the analysis' identity)",
        schema={"type": "boolean"},
    )
    series_column: str | None = declare(
        None,
        help="sequence models: the column separating series (units, stores, sensors) that "
        "windows never cross; needs time_column",
        schema={"type": ["null", "string"], "minLength": 1},
    )
    horizon: int = declare(
        0,
        help="sequence models: the target this many rows after a window's last row",
        schema={"type": "integer", "minimum": 0},
    )
    sequence_length: int | None = declare(
        None,
        help="sequence models whose input takes windows of any length (None, None, F): the "
        "steps of a window (empty: the model's own)",
        schema={"type": ["null", "integer"], "minimum": 1},
    )
    interactions: bool = declare(
        True,
        help="an analysis step: Friedman's H-statistic for the pairs among the top "
        "interaction_top features of the consensus (which act together)",
        schema={"type": "boolean"},
    )
    interaction_top: int = declare(
        8, help="features whose pairs are measured", schema={"type": "integer", "minimum": 2}
    )
    effects: bool = declare(
        True,
        help="an analysis step: accumulated local effects (which way each pushes) of the top "
        "effect_top one-column features, with partial dependence beside them",
        schema={"type": "boolean"},
    )
    effect_top: int = declare(
        6, help="features whose effect is drawn", schema={"type": "integer", "minimum": 1}
    )
    tag_version: bool = declare(
        False,
        help="tag the model version with this analysis (importance.*) even when its settings "
        "are not the stage's configuration of record",
        schema={"type": "boolean"},
    )
    fail_when_unanalysable: bool = declare(
        False,
        help="fail the DAG run when the version cannot be analysed (no data, no target, an "
        "unsupported model) instead of skipping it; the version is tagged either way",
        schema={"type": "boolean"},
    )
    time_budget_s: float | None = declare(
        None,
        help=lambda: (
            f"a guard in seconds for {', '.join(_guarded())}, shared by their typical "
            "work: one that passes its share ends incomplete, out of the consensus; it never "
            "sizes the work, decided from the model and the data (empty or 0: no guard)"
        ),
        schema={"type": ["null", "number"], "minimum": 0},
    )

    def __post_init__(self) -> None:
        for setting in settings():  # each value checked against its declaration, once
            object.__setattr__(self, setting.name, setting.checked(getattr(self, setting.name)))
        stray = sorted(set(self.method_options) - set(self.methods))
        if stray:
            raise InputError(f"options given for methods that do not run: {stray}")
        for method in self.methods:  # every option checked by the method itself, now
            make_method(method, **self.options_for(method))

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> AnalysisConfig:
        """A configuration from settings by name (DAG Params, a JSON object); None or a
        missing name means the default. Unknown names are refused."""
        known = {s.name for s in settings()}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown settings {unknown}; known: {sorted(known)}")
        return cls(**{k: v for k, v in values.items() if v is not None})

    def with_input_groups(self, groups: Mapping[str, Sequence[str]]) -> AnalysisConfig:
        """This configuration with ``groups`` (a model's multi-column inputs: ``pair[0]``,
        ``pair[1]`` as ``pair``) added, except where the configured groups already use the
        name or one of the columns: what was configured wins."""
        taken = set(self.groups) | {c for members in self.groups.values() for c in members}
        added = {
            name: tuple(members)
            for name, members in groups.items()
            if name not in taken and not taken & set(members)
        }
        if not added:
            return self
        return dataclasses.replace(self, groups={**added, **self.groups})

    def with_clusters(
        self,
        clusters: Sequence[Sequence[str]],
        *,
        columns: Mapping[str, Sequence[str]] | None = None,
    ) -> AnalysisConfig:
        """This configuration with ``clusters`` (found in the data) to rank as groups, named
        by their members (``s1+s2``); a member's ``columns`` stand for it (a sequence
        variable's cells). Unchanged when clusters were given, ``auto_groups`` is off or none
        were found."""
        if self.clusters or not self.auto_groups or not clusters:
            return self
        of = columns or {}
        named = {
            "+".join(members): tuple(c for m in members for c in of.get(m, (m,)))
            for members in clusters
        }
        return dataclasses.replace(self, clusters=named)

    def options_for(self, method: str) -> dict[str, Any]:
        """The keyword options ``method`` is built with: shared, shortcuts, then its own."""
        accepted = options_of(REGISTRY[method])
        shared = {
            "random_state": self.seed,
            "groups": {k: list(v) for k, v in self.groups.items()},
            "cluster_groups": {k: list(v) for k, v in self.clusters.items()},
        }
        options = {
            k: v for k, v in shared.items() if k in accepted and accepted[k][1].from_analysis
        }
        for setting in settings():
            value = getattr(self, setting.name)
            if method in setting.option_of and value is not None:
                options[setting.name] = value
        budget = self.time_budget_s
        share = None if budget is None else budget_shares(self.methods).get(method)
        if budget is not None and share is not None:
            options["time_budget_s"] = budget * share
        options.update(self.method_options.get(method, {}))
        return options

    def identity(self) -> dict[str, Any]:
        """The configuration as it is logged and hashed: each method's full options but its
        time guard (which changes whether it completes, never its numbers), seed, scoring,
        the consensus's methods, and what differs from its default of ``_WHERE_CHANGED``."""
        identity: dict[str, Any] = {
            "methods": list(self.methods),
            "options": {
                m: {k: v for k, v in self.options_for(m).items() if k not in GUARDS}
                for m in self.methods
            },
            "seed": self.seed,
            "scoring": self.scoring,
        }
        identity["consensus"] = list(self.counted_methods)
        for name, default in (
            ("top_k", DEFAULT_TOP_K),
            ("drift_threshold", DEFAULT_DRIFT_THRESHOLD),
            *((f.name, f.default) for f in dataclasses.fields(self) if f.name in _WHERE_CHANGED),
        ):
            if getattr(self, name) != default:
                identity[name] = getattr(self, name)
        return identity

    @property
    def counted_methods(self) -> tuple[str, ...]:
        """The methods the consensus ranks by (``consensus_methods``; by default all but the
        weights baseline)."""
        if self.consensus_methods is not None:
            return tuple(m for m in self.methods if m in self.consensus_methods)
        return tuple(m for m in self.methods if m not in _baselines())

    def scoring_for(self, output: str | None) -> str:
        """The scoring of one output (its key, or the target of a one-output analysis)."""
        return per_output_scoring(self.scoring, output)

    def check_outputs(self, outputs: Sequence[str]) -> None:
        """Refuse a scoring mapping that names outputs not among ``outputs`` (analysed)."""
        per_output_scoring(self.scoring, None, outputs=outputs)

    def for_output(self, output: str | None) -> AnalysisConfig:
        """This configuration with the scoring of ``output`` (what its methods run with)."""
        return dataclasses.replace(self, scoring=self.scoring_for(output))

    @property
    def windowing(self) -> Windowing:
        """How a sequence model's long table becomes windows."""
        return Windowing(
            self.time_column, self.series_column, self.horizon, self.sequence_length,
            self.rows_in_time_order,
        )  # fmt: skip

    def digest(self) -> str:
        """A short digest of ``identity()``, tagged on model versions as ``importance.config``."""
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_settings(self) -> dict[str, Any]:
        """The settings by name, JSON-friendly: ``from_settings(to_settings())`` is equal."""
        return {s.name: plain(getattr(self, s.name)) for s in settings()}


def settings() -> tuple[Setting, ...]:
    """Every setting of ``AnalysisConfig``, in declaration order."""
    return declared(AnalysisConfig)
