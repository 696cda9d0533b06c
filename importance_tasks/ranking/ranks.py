"""Ranks and the consensus ranking across methods."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.contract import MethodStatus
from importance_tasks.errors import InputError
from importance_tasks.ranking.top_weighted import rbo
from importance_tasks.ranking.uncertainty import (
    DEFAULT_DRAWS,
    DEFAULT_TOP_K,
    RankIntervals,
    draw_ranks,
    intervals_of,
    rank_intervals,
    tie_ranks,
)
from importance_tasks.result import Importance, rank_descending

__all__ = [
    "Agreement",
    "Consensus",
    "NoCompleteMethodError",
    "agreement",
    "consensus",
    "consensus_cells",
    "failed_sanity",
    "interval_text",
    "rank_descending",
    "tied_label",
    "top_features",
]


class NoCompleteMethodError(InputError):
    """No method that makes the consensus completed its work: there is nothing to rank by.
    Not worth a retry with the same settings."""


@dataclass(frozen=True)
class Consensus:
    """One ranking combined from several methods' rankings.

    Attributes
    ----------
    features : tuple of str
    mean_rank : ndarray of shape (n_features,)
        Mean over the included methods of each feature's rank (tied features take their
        average rank).
    rank : ndarray of shape (n_features,)
        Rank of ``mean_rank``, 1 = most important; equal mean ranks share the best rank.
    methods : tuple of str
        The methods it combines.
    intervals : RankIntervals
        The consensus rank's 95% interval and chance of being in the top k, redrawn from
        every included method's noise (``importance_tasks.ranking.uncertainty``).
    shown_rank : ndarray of shape (n_features,)
        The rank to show: features too close to call share the rank of their tie group's first.
    method_intervals : mapping of method name to RankIntervals
        Each method's own rank intervals (every method, included or not).
    excluded : mapping of method name to the reason it is not in the consensus
        A method that failed its sanity check is left out (unless every method failed).
    """

    features: tuple[str, ...]
    mean_rank: NDArray[np.float64]
    rank: NDArray[np.int64]
    methods: tuple[str, ...]
    intervals: RankIntervals
    shown_rank: NDArray[np.int64]
    method_intervals: Mapping[str, RankIntervals] = field(default_factory=dict)
    excluded: Mapping[str, str] = field(default_factory=dict)

    @property
    def tied(self) -> NDArray[np.bool_]:
        """Features that share their shown rank with another feature."""
        _, inverse, counts = np.unique(self.shown_rank, return_inverse=True, return_counts=True)
        return np.asarray(counts[inverse] > 1)

    def as_dict(self) -> dict[str, Any]:
        """The consensus part of the CLI's ``--json`` shape."""
        intervals = self.intervals.to_record()
        return {
            "rank": self.ranks(),
            "shown_rank": dict(zip(self.features, map(int, self.shown_rank), strict=True)),
            "rank_interval": intervals["interval"],
            f"p_top_{self.intervals.k}": intervals["p_top"],
            "methods": list(self.methods),
            "excluded": dict(self.excluded),
        }

    def ranks(self) -> dict[str, int]:
        """Feature -> consensus rank."""
        return dict(zip(self.features, map(int, self.rank), strict=True))

    def to_record(self) -> dict[str, Any]:
        """JSON (``consensus.json``); ``from_record`` restores it."""
        return {
            "methods": list(self.methods),
            "rank": self.ranks(),
            "mean_rank": dict(zip(self.features, self.mean_rank.tolist(), strict=True)),
            "shown_rank": dict(zip(self.features, map(int, self.shown_rank), strict=True)),
            "intervals": self.intervals.to_record(),
            "method_intervals": {m: i.to_record() for m, i in self.method_intervals.items()},
            "excluded": dict(self.excluded),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Consensus:
        features = tuple(record["rank"])
        rank = np.array([record["rank"][f] for f in features], dtype=np.int64)
        if "intervals" in record:
            intervals = RankIntervals.from_record(record["intervals"])
            shown = np.array([record["shown_rank"][f] for f in features], dtype=np.int64)
        else:  # logged before rank intervals: point intervals
            intervals = RankIntervals(
                features, rank, rank, (rank <= DEFAULT_TOP_K).astype(np.float64), DEFAULT_TOP_K
            )
            shown = rank
        return cls(
            features=features,
            mean_rank=np.array([record["mean_rank"][f] for f in features], dtype=np.float64),
            rank=rank,
            methods=tuple(record["methods"]),
            intervals=intervals,
            shown_rank=shown,
            method_intervals={
                m: RankIntervals.from_record(r)
                for m, r in record.get("method_intervals", {}).items()
            },
            excluded=dict(record.get("excluded", {})),
        )


def failed_sanity(result: Importance) -> str | None:
    """Why ``result`` is left out of the consensus (it failed its sanity check), or None."""
    sanity = result.diagnostics.get("sanity") or {}
    if sanity.get("passed", True):
        return None
    return "failed its sanity check: " + str(sanity.get("reason", "ranking barely changes"))


def top_features(features: Sequence[str], rank: NDArray[Any], k: int) -> list[str]:
    """The ``k`` best-ranked of ``features`` by ``rank`` (ties in feature order)."""
    return [features[i] for i in np.argsort(rank, kind="stable")[:k]]


def consensus(
    results: Sequence[Importance],
    *,
    k: int = DEFAULT_TOP_K,
    seed: int = 0,
    n_draws: int = DEFAULT_DRAWS,
    counted: Collection[str] | None = None,
) -> Consensus:
    """Combine the rankings of several methods into one, by mean rank, with rank intervals.

    A result that is not ``complete`` (``Importance.status``: ended by its time guard, or
    too little work for its estimate) is left out and listed in ``excluded`` with its reason;
    when none of the counted methods is complete there is no consensus
    (``NoCompleteMethodError``). The rule for untrustworthy methods: a method whose sanity
    check failed (its ranking barely changes when the model is randomised, or its loss-based
    importance stays when the labels are shuffled) is left out of the mean rank and listed in
    ``excluded``; when every method failed, all are kept, since there is nothing better to
    rank by, and each is still listed.

    Parameters
    ----------
    results : sequence of Importance
        Every method's result, over the same features.
    k : int, default=5
        The top-k whose membership chance is reported.
    seed : int, default=0
        Seeds the redrawn rankings of the intervals.
    n_draws : int, default=500
    counted : collection of str, optional
        The methods that may make the consensus (default: all); the others, such as the
        first-layer weights baseline, are listed in ``excluded``. When none of ``results`` is
        counted, all are.
    """
    if not results:
        raise ValueError("consensus needs at least one method's result")
    features = results[0].features
    for result in results[1:]:
        if result.features != features:
            raise ValueError(
                f"method {result.method!r} ranks {result.features}, "
                f"but {results[0].method!r} ranks {features}: group features the same way"
            )
    uncounted = {
        r.method: "not counted (consensus_methods): a baseline, not an answer"
        for r in results
        if counted is not None and r.method not in counted
    }
    if len(uncounted) == len(results):
        uncounted = {}
    unsure = {
        r.method: f"{r.status}: {r.status_reason}"
        for r in results
        if r.status != MethodStatus.COMPLETE and r.method not in uncounted
    }
    candidates = [r for r in results if r.method not in uncounted and r.method not in unsure]
    if not candidates:
        raise NoCompleteMethodError(
            "no method that makes the consensus completed its work: "
            + "; ".join(f"{m}: {why}" for m, why in unsure.items())
        )
    excluded = {r.method: why for r in candidates if (why := failed_sanity(r)) is not None}
    included = [r for r in candidates if r.method not in excluded]
    if not included:
        included = candidates
        excluded = {m: f"{why} (kept: every method failed)" for m, why in excluded.items()}
    excluded = {**excluded, **unsure, **uncounted}
    ranks = np.vstack([rank_descending(r.mean, ties="average") for r in included])
    mean_rank = ranks.mean(axis=0)
    rank = rank_descending(-mean_rank)
    draws = np.stack(
        [draw_ranks(r, n_draws=n_draws, seed=seed + i) for i, r in enumerate(included)]
    ).mean(axis=0)
    # Per draw, the consensus rank of each feature's mean rank (ties share the best).
    intervals = intervals_of(rank_descending(-draws).astype(np.float64), rank, features, k=k)
    return Consensus(
        features=features,
        mean_rank=mean_rank,
        rank=rank,
        methods=tuple(r.method for r in included),
        intervals=intervals,
        shown_rank=tie_ranks(rank, intervals.low, intervals.high),
        method_intervals={r.method: rank_intervals(r, k=k) for r in results},
        excluded=excluded,
    )


@dataclass(frozen=True)
class Agreement:
    """How far the methods agree on the ranking.

    Attributes
    ----------
    kendall_w : float
        Kendall's coefficient of concordance over all methods, tie-corrected: 1 = identical
        rankings, 0 = no agreement (NaN with fewer than two methods or features).
    spearman : mapping of "a~b" to float
        Spearman rank correlation of each pair of methods.
    spread : ndarray of shape (n_features,)
        Per feature, the standard deviation of its rank across methods (large = disputed).
    rbo : mapping of "a~b" to float
        Rank-biased overlap of each pair of methods (p = 0.9): agreement weighted to the top.
    """

    kendall_w: float
    spearman: dict[str, float]
    spread: NDArray[np.float64]
    rbo: dict[str, float] = field(default_factory=dict)

    def matrix(self, methods: Sequence[str], measure: str = "rbo") -> NDArray[np.float64]:
        """Method x method matrix of ``measure`` ("rbo" or "spearman"), 1 on the diagonal."""
        pairs = self.rbo if measure == "rbo" else self.spearman
        out = np.eye(len(methods))
        for i, a in enumerate(methods):
            for j, b in enumerate(methods):
                value = pairs.get(f"{a}~{b}", pairs.get(f"{b}~{a}"))
                if i != j:
                    out[i, j] = np.nan if value is None else value
        return out

    def disputed(self, features: Sequence[str], k: int = 3) -> list[tuple[str, float]]:
        """Up to ``k`` features whose rank differs most between methods, with that spread."""
        order = np.argsort(-self.spread, kind="stable")[:k]
        return [(features[i], float(self.spread[i])) for i in order if self.spread[i] > 0]

    def to_record(self, features: Sequence[str]) -> dict[str, Any]:
        """JSON (``agreement.json``); ``from_record`` restores it."""
        return {
            "kendall_w": self.kendall_w,
            "spearman": dict(self.spearman),
            "rbo": dict(self.rbo),
            "rank_spread": dict(zip(features, self.spread.tolist(), strict=True)),
            "disputed": self.disputed(features),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Agreement:
        spread = np.array(list(record["rank_spread"].values()), dtype=np.float64)
        return cls(
            float(record["kendall_w"]),
            dict(record["spearman"]),
            spread,
            dict(record.get("rbo", {})),  # absent before rank-biased overlap
        )


def agreement(results: Sequence[Importance]) -> Agreement:
    """Kendall's W, pairwise Spearman correlations and rank-biased overlaps, and per-feature
    rank spread. For the overlap, tied importances are ordered by feature order."""
    from scipy.stats import spearmanr

    ranks = np.vstack([rank_descending(r.mean, ties="average") for r in results])
    m, n = ranks.shape
    orders = [
        [r.features[i] for i in np.argsort(row, kind="stable")]
        for r, row in zip(results, ranks, strict=True)
    ]
    pairs: dict[str, float] = {}
    overlaps: dict[str, float] = {}
    for i in range(m):
        for j in range(i + 1, m):
            rho = spearmanr(ranks[i], ranks[j]).statistic if n > 1 else np.nan
            pair = f"{results[i].method}~{results[j].method}"
            pairs[pair] = float(rho)
            overlaps[pair] = rbo(orders[i], orders[j])
    if m < 2 or n < 2:
        return Agreement(float("nan"), pairs, np.zeros(n), overlaps)
    totals = ranks.sum(axis=0)
    s = float(((totals - totals.mean()) ** 2).sum())
    ties = sum(
        float(((counts**3) - counts).sum())
        for counts in (np.unique(row, return_counts=True)[1] for row in ranks)
    )
    denominator = m**2 * (n**3 - n) - m * ties
    w = 12 * s / denominator if denominator > 0 else float("nan")
    return Agreement(float(w), pairs, ranks.std(axis=0), overlaps)


def interval_text(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def tied_label(consensus: Consensus, index: int) -> str:
    """The shown rank, marked when tied (``=3``)."""
    shown = int(consensus.shown_rank[index])
    return f"={shown}" if consensus.tied[index] else str(shown)


def consensus_cells(consensus: Consensus, index: int) -> list[Any]:
    """Shown rank, 95% rank interval and chance of being in the top k of one feature."""
    intervals = consensus.intervals
    return [
        tied_label(consensus, index),
        interval_text(int(intervals.low[index]), int(intervals.high[index])),
        f"{intervals.p_top[index]:.0%}",
    ]
