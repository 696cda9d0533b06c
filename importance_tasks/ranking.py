"""Ranks and the consensus ranking across methods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.result import Importance, rank_descending

__all__ = [
    "Agreement",
    "Comparison",
    "Consensus",
    "agreement",
    "compare",
    "consensus",
    "rank_descending",
]


@dataclass(frozen=True)
class Consensus:
    """One ranking combined from several methods' rankings.

    Attributes
    ----------
    features : tuple of str
    mean_rank : ndarray of shape (n_features,)
        Mean over methods of each feature's rank (tied features take their average rank).
    rank : ndarray of shape (n_features,)
        Rank of ``mean_rank``, 1 = most important; equal mean ranks share the best rank.
    methods : tuple of str
        The methods it combines.
    """

    features: tuple[str, ...]
    mean_rank: NDArray[np.float64]
    rank: NDArray[np.int64]
    methods: tuple[str, ...]

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {"rank": dict(zip(self.features, map(int, self.rank), strict=True))}

    def to_record(self) -> dict[str, Any]:
        """JSON (``consensus.json``); ``from_record`` restores it."""
        return {
            "methods": list(self.methods),
            **self.as_dict(),
            "mean_rank": dict(zip(self.features, self.mean_rank.tolist(), strict=True)),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Consensus:
        features = tuple(record["rank"])
        return cls(
            features=features,
            mean_rank=np.array([record["mean_rank"][f] for f in features], dtype=np.float64),
            rank=np.array([record["rank"][f] for f in features], dtype=np.int64),
            methods=tuple(record["methods"]),
        )


def consensus(results: Sequence[Importance]) -> Consensus:
    """Combine the rankings of several methods into one, by mean rank."""
    if not results:
        raise ValueError("consensus needs at least one method's result")
    features = results[0].features
    for result in results[1:]:
        if result.features != features:
            raise ValueError(
                f"method {result.method!r} ranks {result.features}, "
                f"but {results[0].method!r} ranks {features}: group features the same way"
            )
    ranks = np.vstack([rank_descending(r.mean, ties="average") for r in results])
    mean_rank = ranks.mean(axis=0)
    return Consensus(
        features=features,
        mean_rank=mean_rank,
        rank=rank_descending(-mean_rank),
        methods=tuple(r.method for r in results),
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
    """

    kendall_w: float
    spearman: dict[str, float]
    spread: NDArray[np.float64]

    def disputed(self, features: Sequence[str], k: int = 3) -> list[tuple[str, float]]:
        """Up to ``k`` features whose rank differs most between methods, with that spread."""
        order = np.argsort(-self.spread, kind="stable")[:k]
        return [(features[i], float(self.spread[i])) for i in order if self.spread[i] > 0]

    def to_record(self, features: Sequence[str]) -> dict[str, Any]:
        """JSON (``agreement.json``); ``from_record`` restores it."""
        return {
            "kendall_w": self.kendall_w,
            "spearman": dict(self.spearman),
            "rank_spread": dict(zip(features, self.spread.tolist(), strict=True)),
            "disputed": self.disputed(features),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Agreement:
        spread = np.array(list(record["rank_spread"].values()), dtype=np.float64)
        return cls(float(record["kendall_w"]), dict(record["spearman"]), spread)


def agreement(results: Sequence[Importance]) -> Agreement:
    """Kendall's W, pairwise Spearman correlations and per-feature rank spread."""
    from scipy.stats import spearmanr

    ranks = np.vstack([rank_descending(r.mean, ties="average") for r in results])
    m, n = ranks.shape
    pairs: dict[str, float] = {}
    for i in range(m):
        for j in range(i + 1, m):
            rho = spearmanr(ranks[i], ranks[j]).statistic if n > 1 else np.nan
            pairs[f"{results[i].method}~{results[j].method}"] = float(rho)
    if m < 2 or n < 2:
        return Agreement(float("nan"), pairs, np.zeros(n))
    totals = ranks.sum(axis=0)
    s = float(((totals - totals.mean()) ** 2).sum())
    ties = sum(
        float(((counts**3) - counts).sum())
        for counts in (np.unique(row, return_counts=True)[1] for row in ranks)
    )
    denominator = m**2 * (n**3 - n) - m * ties
    w = 12 * s / denominator if denominator > 0 else float("nan")
    return Agreement(float(w), pairs, ranks.std(axis=0))


@dataclass(frozen=True)
class Comparison:
    """One version's consensus ranking against the previous version's.

    Attributes
    ----------
    features : tuple of str
        Features both versions rank, in the current version's order.
    previous_rank, current_rank : ndarray of shape (n_features,)
    spearman, kendall : float
        Rank correlations (NaN with fewer than two common features).
    added, removed : tuple of str
        Features only the current / only the previous version has.
    """

    features: tuple[str, ...]
    previous_rank: NDArray[np.float64]
    current_rank: NDArray[np.float64]
    spearman: float
    kendall: float
    added: tuple[str, ...]
    removed: tuple[str, ...]

    def movers(self, k: int = 5) -> list[tuple[str, int]]:
        """Up to ``k`` features whose rank moved most, with the move (positive = up)."""
        moves = self.previous_rank - self.current_rank
        order = np.argsort(-np.abs(moves), kind="stable")
        return [(self.features[i], int(moves[i])) for i in order[:k] if moves[i] != 0]

    def to_record(self) -> dict[str, Any]:
        """JSON (``comparison.json``, with the previous version); ``from_record`` restores it."""
        return {
            "spearman": self.spearman,
            "kendall": self.kendall,
            "movers": self.movers(),
            "previous_rank": dict(zip(self.features, self.previous_rank.tolist(), strict=True)),
            "current_rank": dict(zip(self.features, self.current_rank.tolist(), strict=True)),
            "added": list(self.added),
            "removed": list(self.removed),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Comparison:
        features = tuple(record["current_rank"])
        return cls(
            features=features,
            previous_rank=np.array([record["previous_rank"][f] for f in features], np.float64),
            current_rank=np.array([record["current_rank"][f] for f in features], np.float64),
            spearman=float(record["spearman"]),
            kendall=float(record["kendall"]),
            added=tuple(record["added"]),
            removed=tuple(record["removed"]),
        )


def compare(previous: Mapping[str, float], current: Mapping[str, float]) -> Comparison:
    """Compare two rankings given as feature -> rank (1 = most important)."""
    from scipy.stats import kendalltau, spearmanr

    common = tuple(f for f in current if f in previous)
    prev = np.array([previous[f] for f in common], dtype=np.float64)
    curr = np.array([current[f] for f in common], dtype=np.float64)
    if len(common) >= 2:
        rho = float(spearmanr(prev, curr).statistic)
        tau = float(kendalltau(prev, curr).statistic)
    else:
        rho = tau = float("nan")
    return Comparison(
        features=common,
        previous_rank=prev,
        current_rank=curr,
        spearman=rho,
        kendall=tau,
        added=tuple(f for f in current if f not in previous),
        removed=tuple(f for f in previous if f not in current),
    )
