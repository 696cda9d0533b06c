"""The metrics and version tag values of an analysis, built from its results with the names
of the contract (``importance_tasks.contract``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from importance_tasks.contract import Metric, VersionStatus, VersionTag, metric_key, output_tag
from importance_tasks.effects.steps import InteractionsAndEffects
from importance_tasks.ranking.comparison import Comparison
from importance_tasks.ranking.ranks import Agreement, Consensus, consensus_cells
from importance_tasks.result import Importance

__all__ = [
    "aggregate_metrics",
    "directions_value",
    "drift_value",
    "importance_metrics",
    "sanity_metrics",
    "step_metrics",
    "top_ranks_value",
    "version_tags",
]


def importance_metrics(result: Importance) -> dict[str, float]:
    """A method's importance, its spread and rank per feature."""
    metrics: dict[str, float] = {}
    for i, feature in enumerate(result.features):
        metrics[metric_key(Metric.IMPORTANCE, result.method, feature)] = float(result.mean[i])
        metrics[metric_key(Metric.IMPORTANCE_STD, result.method, feature)] = float(result.std[i])
        metrics[metric_key(Metric.RANK, result.method, feature)] = float(result.rank[i])
    return metrics


def step_metrics(found: InteractionsAndEffects) -> dict[str, float]:
    """The analysis steps' metrics: each pair's strength (``interaction/<a>/<b>``) and, where
    its joint effect is material, its H² (``interaction_h2/<a>/<b>``); each feature's total
    H² (``interaction_total_h2/<feature>``)."""
    metrics: dict[str, float] = {}
    for pair in found.pairs:
        a, b = pair.features
        metrics[metric_key(Metric.INTERACTION, a, b)] = float(pair.strength)
        if pair.h2 is not None:
            metrics[metric_key(Metric.INTERACTION_H2, a, b)] = float(pair.h2)
    total = {} if found.interactions is None else found.interactions.total
    for feature, h2 in total.items():
        metrics[metric_key(Metric.INTERACTION_TOTAL_H2, feature)] = float(h2)
    return metrics


def directions_value(found: InteractionsAndEffects) -> str:
    """The ``importance.directions`` tag: which way each top feature pushes the output
    (``x3 rises,x2 U-shaped``)."""
    return ",".join(f"{name} {effect.direction}" for name, effect in found.effects.items())


def sanity_metrics(result: Importance) -> dict[str, float]:
    """A method's sanity verdict, when it was checked."""
    sanity = result.diagnostics.get("sanity") or {}
    if "spearman" not in sanity:
        return {}
    return {
        metric_key(Metric.SANITY, result.method, "spearman"): sanity["spearman"],
        metric_key(Metric.SANITY, result.method, "passed"): float(sanity["passed"]),
    }


def aggregate_metrics(
    consensus: Consensus, agreement: Agreement, comparison: tuple[str, Comparison] | None
) -> dict[str, float]:
    """The consensus ranks with their intervals, the agreement between methods and the
    comparison with the previous analysed version."""
    intervals = consensus.intervals
    metrics: dict[str, float] = {}
    for i, feature in enumerate(consensus.features):
        metrics[metric_key(Metric.RANK, Metric.CONSENSUS, feature)] = float(consensus.rank[i])
        metrics[metric_key(Metric.RANK_LOW, Metric.CONSENSUS, feature)] = float(intervals.low[i])
        metrics[metric_key(Metric.RANK_HIGH, Metric.CONSENSUS, feature)] = float(intervals.high[i])
        metrics[metric_key(Metric.P_TOP, Metric.CONSENSUS, feature)] = float(intervals.p_top[i])
    metrics[Metric.KENDALL_W] = agreement.kendall_w
    for pair, rho in agreement.spearman.items():
        metrics[metric_key(Metric.AGREEMENT, "spearman", *pair.split("~"))] = rho
    for pair, overlap in agreement.rbo.items():
        metrics[metric_key(Metric.AGREEMENT, "rbo", *pair.split("~"))] = overlap
    if comparison is not None:
        version, compared = comparison
        metrics[metric_key(Metric.COMPARISON, "spearman")] = compared.spearman
        metrics[metric_key(Metric.COMPARISON, "kendall")] = compared.kendall
        metrics[metric_key(Metric.COMPARISON, "ndcg")] = compared.ndcg
        metrics[metric_key(Metric.COMPARISON, "previous_version")] = float(version)
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
    tags[VersionTag.STATUS] = VersionStatus.COMPLETE
    return tags
