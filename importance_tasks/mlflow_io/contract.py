"""The MLflow contract, spelled once (docs/mlflow-contract.md).

Every artifact path, run and version tag key, param and metric name of an analysis, and the
values of the version tags, the params and the manifest, are built here and nowhere else;
``AnalysisRun`` writes and reads them, ``stage.plan`` and ``stage.publish`` and
``mlflow_io.aliases`` call these functions. Nothing here talks to MLflow or draws anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from importance_tasks.ranking.comparison import Comparison
from importance_tasks.ranking.ranks import Agreement, Consensus, consensus_cells
from importance_tasks.result import Importance

__all__ = [
    "AGREEMENT",
    "ARTIFACT_DIR",
    "COMPARISON",
    "COMPARISON_TABLE",
    "CONSENSUS",
    "DEPENDENCE",
    "EFFECTS_TABLE",
    "EVALUATION_DATASET",
    "INTERACTIONS_TABLE",
    "MANIFEST",
    "RANKINGS_TABLE",
    "REPORT",
    "STEPS",
    "RunTag",
    "VersionTag",
    "aggregate_metrics",
    "directions_value",
    "drift_value",
    "importance_metrics",
    "manifest",
    "metric_key",
    "output_tag",
    "part_path",
    "plot_path",
    "result_path",
    "run_params",
    "sanity_metrics",
    "scoped_metrics",
    "scoped_path",
    "skipped_path",
    "step_metrics",
    "table_path",
    "top_ranks_value",
    "version_tags",
]

ARTIFACT_DIR = "importance"
MANIFEST = f"{ARTIFACT_DIR}/manifest.json"  # written last: the run is complete
CONSENSUS = f"{ARTIFACT_DIR}/consensus.json"
AGREEMENT = f"{ARTIFACT_DIR}/agreement.json"
COMPARISON = f"{ARTIFACT_DIR}/comparison.json"
COMPARISON_TABLE = f"{ARTIFACT_DIR}/comparison.csv"
DEPENDENCE = f"{ARTIFACT_DIR}/dependence.json"
RANKINGS_TABLE = f"{ARTIFACT_DIR}/rankings.csv"
REPORT = f"{ARTIFACT_DIR}/report.html"
# The analysis steps on the top features: the record (interactions and effects) and tables.
STEPS = f"{ARTIFACT_DIR}/interactions_effects.json"
INTERACTIONS_TABLE = f"{ARTIFACT_DIR}/interactions.csv"
EFFECTS_TABLE = f"{ARTIFACT_DIR}/effects.csv"
# The name of the evaluation data as a dataset input of the run and on linked metrics.
EVALUATION_DATASET = "evaluation"
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. :]")


class RunTag:
    """Tags of an analysis run (and of the claims that settle which run a key has)."""

    KEY = "importance.key"
    MODEL_NAME = "importance.model_name"
    MODEL_VERSION = "importance.model_version"
    CLAIMANT = "importance.claimant"
    CLAIMED_RUN = "importance.run_id"
    # The registry audit's verdict on computing the run again (``stage.verify``).
    VERIFIED = "importance.verified"


class VersionTag:
    """Tags of a model version (and of its LoggedModel)."""

    RUN_ID = "importance.run_id"
    TOP_FEATURES = "importance.top_features"
    TOP_RANKS = "importance.top_ranks"
    DRIFT = "importance.drift"
    DIRECTIONS = "importance.directions"
    CONFIG = "importance.config"
    STATUS = "importance.status"  # complete, needs_data or unsupported
    REASON = "importance.reason"
    PROMOTION = "importance.promotion"
    PROMOTION_REASONS = "importance.promotion_reasons"
    COMPLETE = "complete"


def result_path(method: str) -> str:
    return f"{ARTIFACT_DIR}/{method}.json"


def table_path(method: str) -> str:
    return f"{ARTIFACT_DIR}/{method}.csv"


def part_path(method: str, shard: int, *, randomized: bool = False) -> str:
    kind = "randomized/" if randomized else ""
    return f"{ARTIFACT_DIR}/parts/{method}/{kind}{shard:05d}.json"


def skipped_path(method: str, *, randomized: bool = False) -> str:
    """Why a method has no result; with ``randomized``, why a sharded method's sanity check
    has no result on the randomised model."""
    if randomized:
        return f"{ARTIFACT_DIR}/parts/{method}/randomized.skipped.json"
    return f"{ARTIFACT_DIR}/{method}.skipped.json"


def plot_path(name: str) -> str:
    """A chart: a method's (``permutation``) or the ranks by method (``rank_heatmap``)."""
    return f"{ARTIFACT_DIR}/plots/{name}.png"


def scoped_path(path: str, output: str | None) -> str:
    """An artifact of one output of several: ``importance/<output>/...`` (None: as it is)."""
    if output is None:
        return path
    return f"{ARTIFACT_DIR}/{_part(output)}/{path.removeprefix(ARTIFACT_DIR + '/')}"


def scoped_metrics(metrics: Mapping[str, float], output: str | None) -> dict[str, float]:
    """Metrics of one output of several: the output after the first part of each name
    (``importance/<output>/<method>/<feature>``, ``agreement/<output>/kendall_w``)."""
    if output is None:
        return dict(metrics)
    scoped = {}
    for key, value in metrics.items():
        kind, _, rest = key.partition("/")
        scoped[f"{kind}/{_part(output)}/{rest}"] = value
    return scoped


def output_tag(tag: str, output: str | None) -> str:
    """A version tag of one output of several: ``importance.<output>.top_features``."""
    if output is None:
        return tag
    prefix, _, name = tag.rpartition(".")
    return f"{prefix}.{_part(output)}.{name}"


def _part(name: str) -> str:
    return _UNSAFE.sub("_", name).replace("/", "_")


def metric_key(*parts: str) -> str:
    """A metric name from parts; characters MLflow refuses, and ``/`` in a part, become ``_``."""
    return "/".join(_UNSAFE.sub("_", part) for part in parts)


def run_params(
    *,
    model: Mapping[str, str],
    data: Mapping[str, Any],
    identity: Mapping[str, Any],
    scoring: str | Mapping[str, str],
    package_versions: Mapping[str, str],
) -> dict[str, Any]:
    """The params of an analysis run: the model (``name``, ``version``, ``uri``, ``flavor``),
    the data (``uri``, ``source``, ``digest``, ``rows``, ``target``, ``target_source``,
    ``names_checked``, ``names_source``), the configuration's identity."""
    return {
        "model_name": model["name"],
        "model_version": model["version"],
        "model_uri": model["uri"],
        "model_flavor": model["flavor"],
        "data_uri": data["uri"],
        "data_source": data["source"],
        "data_digest": data["digest"],
        "data_rows": data["rows"],
        "target": data["target"],
        "target_source": data["target_source"],
        "methods": ",".join(identity["methods"]),
        "seed": identity["seed"],
        "scoring": scoring if isinstance(scoring, str) else json.dumps(dict(scoring)),
        "feature_names_checked": data["names_checked"],
        "feature_names_source": data["names_source"] or "the table's order",
        **{f"settings.{m}": o for m, o in identity["options"].items()},
        "package_versions": package_versions,
    }


def importance_metrics(result: Importance) -> dict[str, float]:
    """A method's importance, its spread and rank per feature."""
    metrics: dict[str, float] = {}
    for i, feature in enumerate(result.features):
        metrics[metric_key("importance", result.method, feature)] = float(result.mean[i])
        metrics[metric_key("importance_std", result.method, feature)] = float(result.std[i])
        metrics[metric_key("rank", result.method, feature)] = float(result.rank[i])
    return metrics


def step_metrics(record: Mapping[str, Any]) -> dict[str, float]:
    """The analysis steps' metrics: each pair's strength (``interaction/<a>/<b>``) and, where
    its joint effect is material, its H² (``interaction_h2/<a>/<b>``); each feature's total
    H² (``interaction_total_h2/<feature>``)."""
    metrics: dict[str, float] = {}
    for pair in record.get("interactions") or []:
        a, b = pair["features"]
        metrics[metric_key("interaction", a, b)] = float(pair["strength"])
        if pair["h2"] is not None:
            metrics[metric_key("interaction_h2", a, b)] = float(pair["h2"])
    for feature, h2 in (record.get("interaction_total_h2") or {}).items():
        metrics[metric_key("interaction_total_h2", feature)] = float(h2)
    return metrics


def directions_value(record: Mapping[str, Any]) -> str:
    """The ``importance.directions`` tag: which way each top feature pushes the output
    (``x3 rises,x2 U-shaped``)."""
    effects = record.get("effects") or {}
    return ",".join(f"{name} {effect['direction']}" for name, effect in effects.items())


def sanity_metrics(result: Importance) -> dict[str, float]:
    """A method's sanity verdict, when it was checked."""
    sanity = result.diagnostics.get("sanity") or {}
    if "spearman" not in sanity:
        return {}
    return {
        metric_key("sanity", result.method, "spearman"): sanity["spearman"],
        metric_key("sanity", result.method, "passed"): float(sanity["passed"]),
    }


def aggregate_metrics(
    consensus: Consensus, agreement: Agreement, comparison: tuple[str, Comparison] | None
) -> dict[str, float]:
    """The consensus ranks with their intervals, the agreement between methods and the
    comparison with the previous analysed version."""
    intervals = consensus.intervals
    metrics: dict[str, float] = {}
    for i, feature in enumerate(consensus.features):
        metrics[metric_key("rank", "consensus", feature)] = float(consensus.rank[i])
        metrics[metric_key("rank_low", "consensus", feature)] = float(intervals.low[i])
        metrics[metric_key("rank_high", "consensus", feature)] = float(intervals.high[i])
        metrics[metric_key("p_top", "consensus", feature)] = float(intervals.p_top[i])
    metrics["agreement/kendall_w"] = agreement.kendall_w
    for pair, rho in agreement.spearman.items():
        metrics[metric_key("agreement", "spearman", *pair.split("~"))] = rho
    for pair, overlap in agreement.rbo.items():
        metrics[metric_key("agreement", "rbo", *pair.split("~"))] = overlap
    if comparison is not None:
        version, compared = comparison
        metrics["comparison/spearman"] = compared.spearman
        metrics["comparison/kendall"] = compared.kendall
        metrics["comparison/ndcg"] = compared.ndcg
        metrics["comparison/previous_version"] = float(version)
    return metrics


def top_ranks_value(consensus: Consensus) -> str:
    """The ``importance.top_ranks`` tag: the top k with their 95% rank interval and chance of
    being in the top k, ties marked (``bmi 1 [1-1] 100%,=2 s5 [2-4] 71%,...``)."""
    order = np.argsort(consensus.rank, kind="stable")[: consensus.intervals.k]
    return ",".join(
        f"{tied} {consensus.features[i]} [{interval}] {share}"
        for i in order
        for tied, interval, share in [consensus_cells(consensus, int(i))]
    )


def drift_value(comparison: Comparison) -> str:
    """The ``importance.drift`` tag: nDCG@k against the previous version and the verdict
    (``ndcg@5=0.943 ok`` or ``ndcg@5=0.712 drifted``)."""
    state = "drifted" if comparison.drifted else "ok"
    return f"ndcg@{comparison.k}={comparison.ndcg:.3f} {state}"


def version_tags(
    *,
    run_id: str,
    outputs: Mapping[str | None, tuple[Sequence[str], Consensus, Comparison | None]],
    config_digest: str,
    directions: Mapping[str | None, str] | None = None,
) -> dict[str, str]:
    """The ``importance.*`` tags of an analysed version, in the order they are set: for each
    output (None: the one output of the analysis), its top features, top ranks and drift,
    named ``importance.<output>.top_features`` when there are several; the run, the
    configuration, and the status last, so that a reader who sees it complete sees the
    others."""
    tags = {VersionTag.RUN_ID: run_id}
    for output, (top_features, consensus, comparison) in outputs.items():
        tags[output_tag(VersionTag.TOP_FEATURES, output)] = ",".join(top_features)
        tags[output_tag(VersionTag.TOP_RANKS, output)] = top_ranks_value(consensus)
        if comparison is not None:
            tags[output_tag(VersionTag.DRIFT, output)] = drift_value(comparison)
        if (directions or {}).get(output):
            tags[output_tag(VersionTag.DIRECTIONS, output)] = (directions or {})[output]
    tags[VersionTag.CONFIG] = config_digest
    tags[VersionTag.STATUS] = VersionTag.COMPLETE
    return tags


def manifest(
    *,
    key: str,
    run_id: str,
    model: Mapping[str, Any],
    data: Mapping[str, Any],
    methods: Sequence[str],
    skip_reasons: Mapping[str, str],
    identity: Mapping[str, Any],
    settings: Mapping[str, Any],
    artifacts: Sequence[str],
    outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """``manifest.json``, written last: what the run holds. ``model``: name, version,
    model_id; ``data``: uri, digest, rows, target, targets, column_types; ``settings``: every
    setting the analysis ran with (``AnalysisConfig.to_settings``), what ``verify`` computes
    it again from. With several outputs,
    ``outputs``: each output's target, methods and skip reasons (``methods`` and ``skipped``
    then list what any output has)."""
    found = {} if outputs is None else {"outputs": {k: dict(v) for k, v in outputs.items()}}
    return {
        **found,
        "complete": True,
        "key": key,
        "run_id": run_id,
        "model": dict(model),
        "data": dict(data),
        "methods": list(methods),
        "skipped": list(skip_reasons),
        "skip_reasons": dict(skip_reasons),
        "config": dict(identity),
        "settings": dict(settings),
        "artifacts": [*artifacts, MANIFEST],
    }
